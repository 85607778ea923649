"""The exception classes keep upstream v0.2's constructors, attributes and
messages, and the forms this package used before (issue 12, item 2)."""

from __future__ import annotations

import pytest

from sqlmodel_crud_utils import (
    BulkOperationError,
    MultipleRecordsError,
    QueryError,
    RecordNotFoundError,
    SQLModelCRUDError,
    TransactionError,
    ValidationError,
)
from sqlmodel_crud_utils.exceptions import (
    DatabaseConnectionError,
    QueryExecutionError,
    multiple_found,
    not_found,
    validation_error,
)
from tests.models import Hero


def test_record_not_found_both_forms() -> None:
    error = RecordNotFoundError(model=Hero, id_value="abc-1", pk_field="user_id")
    assert (error.model, error.id_value, error.pk_field) == (Hero, "abc-1", "user_id")
    assert str(error) == "Hero with user_id='abc-1' not found"
    assert (
        str(RecordNotFoundError(Hero, filters=["name='x'"]))
        == "No Hero matches the query (name='x')"
    )
    assert str(not_found(Hero, 7)) == "Hero with id=7 not found"


def test_multiple_records_message_is_v02s() -> None:
    assert str(MultipleRecordsError(model=Hero, count=5)) == "Expected 1 Hero, found 5"
    error = MultipleRecordsError(Hero, 3, {"email": "a@x.io", "active": True})
    assert str(error) == "Expected 1 Hero, found 3 (filters: {'email': 'a@x.io', 'active': True})"
    assert error.filters == {"email": "a@x.io", "active": True}
    described = MultipleRecordsError(Hero, 2, ["age__gte=18", "name='x'"])
    assert str(described) == "Expected 1 Hero, found 2 (filters: age__gte=18, name='x')"
    assert multiple_found(Hero, 4).count == 4


def test_validation_error_v02_constructor() -> None:
    plain = ValidationError(message="Invalid data")
    assert (plain.field, plain.value, plain.errors) == (None, None, None)
    assert str(plain) == "Validation failed: Invalid data"
    assert str(ValidationError("bad")) == "Validation failed: bad"  # positional, as before
    field = ValidationError(message="Must be positive", field="age", value=-5)
    assert str(field) == "Validation failed for field 'age': Must be positive (value: -5)"
    several = ValidationError("Several", errors={"email": "Invalid", "age": "Must be 18+"})
    assert str(several) == "Validation failed: Several\n  - email: Invalid\n  - age: Must be 18+"
    assert validation_error("Invalid", field="email", value="bad").field == "email"


def test_query_error_is_a_validation_error_with_its_own_message() -> None:
    error = QueryError("unknown field 'x'", model=Hero, key="x", value=1)
    assert isinstance(error, ValidationError)
    assert str(error) == "Hero: unknown field 'x'"
    assert (error.key, error.field, error.value, error.errors) == ("x", "x", 1, None)


def test_bulk_operation_error_v02_and_earlier_forms() -> None:
    error = BulkOperationError(total=100, failed=3, errors=["e1", "e2", "e3"])
    assert str(error) == "Bulk operation failed: 3/100 records failed (97.0% success rate)"
    assert (error.successful, error.failed_records, error.succeeded) == (None, None, [])
    detailed = BulkOperationError(10, 2, ["x"], [1, 2], [{"id": 5}])
    assert (detailed.successful, detailed.failed_records) == ([1, 2], [{"id": 5}])
    assert BulkOperationError(2, 1, [], succeeded=["row"]).succeeded == ["row"]  # earlier keyword
    assert str(BulkOperationError(0, 0, [])).endswith("(0.0% success rate)")
    summary = BulkOperationError(
        50, 3, [ValueError("Invalid value"), "String error", {"index": 4, "error": "dup"}]
    ).get_error_summary()
    assert summary.splitlines()[-3:] == [
        "  1. ValueError: Invalid value",
        "  2. String error",
        "  3. row 4: dup",
    ]


def test_transaction_error_v02_constructor() -> None:
    assert str(TransactionError("commit failed")) == "commit failed"  # positional, as before
    plain = TransactionError(message="Transaction failed")
    assert (plain.operation, plain.original_error) == (None, None)
    original = ValueError("constraint")
    error = TransactionError(operation="commit", original_error=original)
    assert str(error) == "Transaction operation 'commit' failed: ValueError(constraint)"
    assert error.original_error is original
    assert str(TransactionError(operation="rollback")) == "Transaction operation 'rollback' failed"
    assert str(TransactionError(original_error=original)) == "Transaction failed: constraint"
    assert str(TransactionError()) == "Transaction operation failed"


def test_connection_and_query_execution_errors() -> None:
    error = DatabaseConnectionError(
        database_url="postgresql://localhost:5432/testdb",
        original_error=ConnectionError("Connection timeout"),
    )
    assert error.database_url == "postgresql://localhost:5432/testdb"
    assert str(error) == (
        "Failed to connect to database at postgresql://localhost:5432/testdb: "
        "ConnectionError(Connection timeout)"
    )
    secret = DatabaseConnectionError(database_url="postgresql://me:secret@db/app")
    assert "secret" not in str(secret)
    assert secret.database_url == "postgresql://me:***@db/app"
    assert str(DatabaseConnectionError()) == "Database connection failed"
    query = "SELECT * FROM users WHERE id = 123"
    failed = QueryExecutionError(query=query, original_error=Exception("no column"))
    assert failed.query == query
    assert str(failed) == f"Query execution failed: Exception(no column)\nQuery: {query}"
    long = QueryExecutionError(query="x" * 300)
    assert str(long) == "Query execution failed: " + "x" * 200 + "..."
    assert str(QueryExecutionError(message="custom")) == "custom"


@pytest.mark.parametrize(
    "error",
    [
        RecordNotFoundError(model=Hero, id_value=1),
        MultipleRecordsError(model=Hero, count=2),
        ValidationError(message="Test"),
        BulkOperationError(total=10, failed=1, errors=["Error"]),
        TransactionError(message="Test"),
        DatabaseConnectionError(message="Test"),
        QueryExecutionError(message="Test"),
    ],
    ids=type,
)
def test_every_error_is_a_library_error(error: Exception) -> None:
    assert isinstance(error, SQLModelCRUDError)
