"""Every import path of 0.2.0 keeps working, whatever module a name now lives in.

The lists are the ``__all__`` of each public module at 0.2.0 (commit
cd7cdb5), frozen here: moving code between modules must not break them.
"""

from __future__ import annotations

import importlib

import pytest

RELEASED_0_2_0 = {
    "mixins": [
        "AuditMixin",
        "SoftDeleteMixin",
        "UTCDateTime",
        "acting_as",
        "audit_update_values",
        "current_user",
        "has_soft_scope",
        "soft_scope_of",
        "is_audit_model",
        "is_soft_delete_model",
        "live_only",
        "soft_scope",
        "utc_now",
        "with_deleted",
    ],
    "lookups": [
        "OPERATORS",
        "Lookup",
        "RelatedCriteria",
        "coerce_value",
        "mapper_of",
        "parse_field",
        "parse_lookup",
        "parse_order_key",
        "parse_relationship_path",
        "relationship_targets",
    ],
    "query": ["Q", "SoftMode", "Strategy"],
    "pagination": ["CursorPage", "Page", "decode_cursor", "encode_cursor"],
    "exceptions": [
        "BulkOperationError",
        "MultipleRecordsError",
        "QueryError",
        "RecordNotFoundError",
        "SQLModelCRUDError",
        "TransactionError",
        "ValidationError",
        "legacy_failures",
        "translate_errors",
    ],
    "sync": [
        "bulk_upsert_mappings",
        "delete_row",
        "get_one_or_create",
        "get_result_from_query",
        "get_row",
        "get_rows",
        "get_rows_within_id_list",
        "insert_data_rows",
        "restore_row",
        "soft_delete_row",
        "update_row",
        "write_row",
    ],
}
RELEASED_0_2_0["a_sync"] = RELEASED_0_2_0["sync"]

PATHS = [(module, name) for module, names in RELEASED_0_2_0.items() for name in names]


@pytest.mark.parametrize(("module", "name"), PATHS)
def test_released_import_path_resolves(module: str, name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from sqlmodel_crud_utils.{module} import {name}", namespace)
    imported = importlib.import_module(f"sqlmodel_crud_utils.{module}")
    assert namespace[name] is getattr(imported, name)


def test_mixins_reexports_the_objects_of_their_new_homes() -> None:
    from sqlmodel_crud_utils import audit, mixins, scopes, types

    for name in mixins.__all__:
        homes = [module for module in (audit, scopes, types) if hasattr(module, name)]
        assert homes, f"mixins.{name} has no home module"
        assert all(getattr(home, name) is getattr(mixins, name) for home in homes), name


_WITHOUT_FASTAPI = """
import sys
from importlib.abc import MetaPathFinder


class NoFastAPI(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("fastapi", "starlette"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoFastAPI())
import sqlmodel_crud_utils
from sqlmodel import Field, SQLModel


class Probe(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    depth: int = 0


assert "depth" in str(sqlmodel_crud_utils.Q(Probe).where(depth__gte=3).statement)
assert not [m for m in sys.modules if m.split(".")[0] in ("fastapi", "starlette")]
try:
    import sqlmodel_crud_utils.fastapi
except ModuleNotFoundError as exc:
    print("refused:", exc.name)
"""


def test_the_package_root_never_needs_fastapi():
    """The root (every module it imports) works where FastAPI cannot be
    imported; only ``sqlmodel_crud_utils.fastapi`` needs it."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_FASTAPI], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused: fastapi"
