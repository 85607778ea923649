"""Every public object has a docstring with a short example (house rule)."""

from __future__ import annotations

import inspect

import pytest

import sqlmodel_crud_utils
from sqlmodel_crud_utils import a_sync, sync

PUBLIC = sorted(name for name in sqlmodel_crud_utils.__all__ if name != "__version__")
MARKERS = (">>>", "Example", "example::", "```")


def _documented(obj: object) -> str:
    return inspect.getdoc(obj) or ""


@pytest.mark.parametrize("name", PUBLIC)
def test_public_object_has_docstring_with_example(name: str) -> None:
    obj = getattr(sqlmodel_crud_utils, name)
    doc = _documented(obj)
    assert doc, f"{name} has no docstring"
    assert any(marker in doc for marker in MARKERS), f"{name}'s docstring has no example"


@pytest.mark.parametrize("module", [sync, a_sync], ids=["sync", "a_sync"])
def test_legacy_modules_export_documented_functions(module: object) -> None:
    names = getattr(module, "__all__", [])
    assert names, f"{module} has no __all__"
    for name in names:
        assert _documented(getattr(module, name)), f"{module}.{name} has no docstring"


@pytest.mark.parametrize("cls_name", ["Q", "Page", "CursorPage"])
def test_public_methods_have_docstrings_with_examples(cls_name: str) -> None:
    cls = getattr(sqlmodel_crud_utils, cls_name)
    methods = {
        name: member
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(getattr(member, "__func__", member))
    }
    lacking = [
        name
        for name, member in methods.items()
        if not any(marker in _documented(member) for marker in MARKERS)
    ]
    assert not lacking, f"{cls_name} methods without an example: {lacking}"
