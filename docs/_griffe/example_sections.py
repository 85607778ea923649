"""Griffe extension for the API reference.

* Google-style ``Example:`` sections are read as ``Examples:`` so their
  ``>>>`` lines render as code;
* ``# doctest: ...`` directives (for the doctest runner, not for readers) are
  dropped from the rendered examples;
* private constructor parameters (``_criteria``, ``_filters``, ... of a
  dataclass such as `Q`) are dropped from rendered signatures: they are
  implementation details, never passed by callers.
"""

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_DOCTEST_DIRECTIVE = re.compile(r"^(\s*(?:>>>|\.\.\.).*?)\s*#\s*doctest:[^\n]*$", re.MULTILINE)


def _hide_private_parameters(cls: griffe.Class) -> None:
    init = cls.members.get("__init__")
    if isinstance(init, griffe.Function):
        init.parameters = griffe.Parameters(
            *(p for p in init.parameters if not p.name.startswith("_"))
        )


class ExampleSections(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _DOCTEST_DIRECTIVE.sub(r"\1", value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        # Griffe runs its dataclasses extension (which builds the dataclasses'
        # __init__) after ours; run it first here (it skips classes that
        # already have an __init__, so running twice is harmless).
        griffe.DataclassesExtension().on_package(pkg=pkg, **kwargs)

        def walk(obj: griffe.Object) -> None:
            for member in obj.members.values():
                if member.is_alias:
                    continue
                if isinstance(member, griffe.Class):
                    _hide_private_parameters(member)
                if isinstance(member, (griffe.Module, griffe.Class)):
                    walk(member)

        walk(pkg)
