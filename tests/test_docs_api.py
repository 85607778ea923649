"""The API reference page tells the truth about where names are imported from,
and the published site carries no docs tooling.

``docs/api.md`` renders names with mkdocstrings directives:

* ``::: sqlmodel_crud_utils.<module>`` with a ``members:`` list presents those
  members as importable from the package root (for ``a_sync``: with an ``a_``
  prefix);
* ``::: sqlmodel_crud_utils.<module>.<name>`` presents one name that is not a
  root export; the page must show its ``from sqlmodel_crud_utils.<module>
  import ...`` line.
"""

import importlib
import re
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import sqlmodel_crud_utils

ROOT = Path(__file__).resolve().parent.parent
API_PAGE = ROOT / "docs" / "api.md"
PACKAGE = "sqlmodel_crud_utils"
PREFIXED = {f"{PACKAGE}.a_sync": "a_"}  # module -> prefix of its root names

DIRECTIVE = re.compile(r"^::: (?P<target>[\w.]+)[ \t]*\n(?P<options>(?:(?:[ \t]+\S.*)?\n)*)", re.M)
IMPORT = re.compile(r"from (?P<module>sqlmodel_crud_utils(?:\.\w+)*) import (?P<names>[\w, .]+)")


def directives() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for match in DIRECTIVE.finditer(API_PAGE.read_text(encoding="utf-8")):
        block = yaml.safe_load(textwrap.dedent(match.group("options"))) or {}
        found.append((match.group("target"), block.get("options") or {}))
    assert found, "no ::: directives found in docs/api.md"
    return found


def as_module(target: str) -> ModuleType | None:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError:
        return None


def root_presented() -> list[tuple[str, str, str]]:
    """(module, member, root name) for every name the page presents as a root export."""
    names = []
    for target, options in directives():
        if as_module(target) is not None:
            prefix = PREFIXED.get(target, "")
            names += [(target, member, prefix + member) for member in options.get("members", [])]
    return names


def module_only() -> list[tuple[str, str]]:
    """(module, name) for every object rendered on its own (not a root export)."""
    found = []
    for target, _ in directives():
        if as_module(target) is None:
            module, _, name = target.rpartition(".")
            found.append((module, name))
    return found


def test_module_directives_list_their_members() -> None:
    """A whole-module directive would render every public name of the module,
    root export or not: each one must list what it shows."""
    for target, options in directives():
        if as_module(target) is not None:
            assert options.get("members"), f"::: {target} must list its members"


@pytest.mark.parametrize(("module", "member", "root_name"), root_presented())
def test_root_presented_names_are_root_exports(module: str, member: str, root_name: str) -> None:
    assert root_name in sqlmodel_crud_utils.__all__, (
        f"docs/api.md presents {module}.{member} as `from {PACKAGE} import {root_name}`, "
        "which is not a root export"
    )
    documented = getattr(importlib.import_module(module), member)
    assert getattr(sqlmodel_crud_utils, root_name) is documented


@pytest.mark.parametrize(("module", "name"), module_only())
def test_module_only_names_show_their_import(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name)
    shown = {
        (m.group("module"), n.strip())
        for m in IMPORT.finditer(API_PAGE.read_text(encoding="utf-8"))
        for n in m.group("names").split(",")
    }
    assert (module, name) in shown, (
        f"docs/api.md renders {name} without `from {module} import {name}`"
    )


def test_import_lines_on_the_page_work() -> None:
    for match in IMPORT.finditer(API_PAGE.read_text(encoding="utf-8")):
        module = importlib.import_module(match.group("module"))
        for name in (n.strip() for n in match.group("names").split(",")):
            if name and name != "...":
                assert hasattr(module, name), f"`from {module.__name__} import {name}` fails"
                if module is sqlmodel_crud_utils:
                    assert name in sqlmodel_crud_utils.__all__


def test_every_root_export_is_documented() -> None:
    documented = {root_name for _, _, root_name in root_presented()}
    missing = set(sqlmodel_crud_utils.__all__) - documented - {"__version__"}
    assert not missing, f"root exports missing from docs/api.md: {sorted(missing)}"


def test_docs_tooling_is_not_published() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    excluded = {line.strip() for line in (config.get("exclude_docs") or "").splitlines()}
    tooling = sorted(p.name for p in (ROOT / "docs").iterdir() if p.is_dir() and p.name[0] == "_")
    assert "_tools" in tooling
    for name in tooling:
        assert f"{name}/" in excluded or f"/{name}/" in excluded, (
            f"docs/{name}/ would be published in the site: add it to exclude_docs in mkdocs.yml"
        )
