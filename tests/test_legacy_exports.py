"""The package root exports exactly its public API; v0.1 import paths work."""

from __future__ import annotations

import inspect
import types

import sqlmodel_crud_utils as package
from sqlmodel_crud_utils import a_sync, sync

LEGACY = [
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
]
#: Added by upstream 0.4: no ``raise_on_error`` (they raise, as upstream's do).
UPSTREAM_0_4 = ["bulk_update_rows", "delete_rows_within_id_list"]


def test_all_is_sorted_and_every_name_imports():
    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    namespace: dict[str, object] = {}
    exec(f"from sqlmodel_crud_utils import {', '.join(package.__all__)}", namespace)
    assert set(package.__all__) <= set(namespace)


def test_all_lists_exactly_what_is_exported():
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} == set(package.__all__)
    assert package.__version__ == "0.2.0"


def test_legacy_functions_sync_and_async_names():
    everything = sorted(LEGACY + UPSTREAM_0_4)
    assert sorted(sync.__all__) == everything == sorted(a_sync.__all__)
    for name in everything:
        assert getattr(package, name) is getattr(sync, name)
        assert getattr(package, f"a_{name}") is getattr(a_sync, name)
        assert inspect.iscoroutinefunction(getattr(a_sync, name))
        sync_params = list(inspect.signature(getattr(sync, name)).parameters)
        async_params = list(inspect.signature(getattr(a_sync, name)).parameters)
        if name == "get_row":  # v0.1's async get_row had its own order; kept
            assert sorted(sync_params) == sorted(async_params)
            assert async_params[:8] == [
                "id_str", "session_inst", "model", "selectin", "select_in_keys", "lazy",
                "lazy_load_keys", "pk_field",
            ]  # fmt: skip
        else:
            assert sync_params == async_params, name


def test_v01_signatures_are_kept():
    def positional(function):
        return [
            p.name
            for p in inspect.signature(function).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD
        ]

    assert positional(sync.get_rows) == [
        "session_inst", "model", "selectin", "select_in_keys", "lazy", "lazy_load_keys",
        "page_size", "page", "text_field", "stmnt", "use_cache", "cache_ttl",
    ]  # fmt: skip
    assert positional(sync.get_row) == [
        "id_str", "session_inst", "model", "selectin", "lazy", "lazy_load_keys",
        "select_in_keys", "pk_field", "use_cache", "cache_ttl",
    ]  # fmt: skip
    assert positional(sync.get_one_or_create) == [
        "session_inst", "model", "create_method_kwargs", "selectin", "select_in_key",
    ]  # fmt: skip
    assert positional(sync.update_row) == ["id_str", "data", "session_inst", "model", "pk_field"]
    assert positional(sync.bulk_upsert_mappings) == [
        "payload", "session_inst", "model", "pk_fields", "update_columns",
    ]  # fmt: skip
    assert inspect.signature(sync.get_rows).parameters["page_size"].default == 100
    for name in LEGACY:
        parameter = inspect.signature(getattr(sync, name)).parameters["raise_on_error"]
        assert parameter.kind is parameter.KEYWORD_ONLY
        assert parameter.default is False
