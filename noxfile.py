"""The version matrix: every Python we support x the oldest and the newest
dependencies we declare.

    nox -l                                   # list the cells
    nox -s "tests-3.10(floor)"               # one cell (SQLite)
    TEST_DATABASES=sqlite,postgresql,mariadb nox -s "tests-3.10(floor)"
    nox                                      # every cell (`make matrix`)

``floor`` pins the library's runtime dependencies and its database drivers
(``dependencies`` and the ``sqlite-async``, ``postgres`` and ``mysql``
extras of ``pyproject.toml``) to exactly the minimum each declares; test
tooling (pytest, syrupy, FastAPI, mypy) is the newest release in both cells,
since it is not what our users install. ``latest`` resolves everything to the
newest release. A cell whose Python is missing fails instead of being skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
RUNTIME_EXTRAS = ["sqlite-async", "postgres", "mysql", "cache", "fastapi"]
INSTALL = f".[dev,{','.join(RUNTIME_EXTRAS)}]"
#: Test tools pinned to their minimum in the floor too: the old Starlette that
#: FastAPI's floor brings drives its TestClient through httpx's 0.27 API.
FLOOR_TEST_TOOLS = ["httpx"]

nox.options.default_venv_backend = "uv|virtualenv"
# Interpreters come from this machine, never from a download.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")


def _expose_pyenv_pythons() -> None:
    """Make pyenv's ``python3.X`` shims answer for every version in `PYTHONS`
    (by default they answer only for pyenv's global version)."""
    if shutil.which("pyenv") is None:
        return
    installed = subprocess.run(
        ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
    ).stdout.split()
    chosen = []
    for python in PYTHONS:
        matches = [v for v in installed if re.fullmatch(rf"{re.escape(python)}\.\d+", v)]
        if matches:
            chosen.append(max(matches, key=lambda v: int(v.rsplit(".", 1)[1])))
    active = [v for v in os.environ.get("PYENV_VERSION", "").split(":") if v]
    merged = active + [v for v in chosen if v not in active]
    if merged:
        os.environ["PYENV_VERSION"] = ":".join(merged)


_expose_pyenv_pythons()
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"
nox.options.sessions = ["tests"]


def floor_pins(python: str) -> list[str]:
    """``name==minimum`` for each runtime requirement and driver that applies
    on ``python`` (its environment marker), read from ``pyproject.toml`` so the
    floor can never drift from what we declare. Where several requirements
    name one package (a higher minimum on a newer Python), the highest wins.

    Extras are dropped: a constraints file pins versions, not extras.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    requirements += [
        text
        for text in project["optional-dependencies"]["dev"]
        if canonicalize_name(Requirement(text).name) in FLOOR_TEST_TOOLS
    ]
    environment = {"python_version": python, "python_full_version": f"{python}.0"}
    minimums: dict[str, Version] = {}
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        lows = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        if not lows:
            raise ValueError(f"requirement without a '>=' minimum: {text!r}")
        name = canonicalize_name(requirement.name)
        minimums[name] = max([*lows, minimums.get(name, lows[0])])
    return [f"{name}=={version}" for name, version in sorted(minimums.items())]


@nox.session(python=PYTHONS)
@nox.parametrize("deps", [nox.param("floor", id="floor"), nox.param("latest", id="latest")])
def tests(session: nox.Session, deps: str) -> None:
    """The whole test suite and the doctests, on the backends ``TEST_DATABASES`` names."""
    if deps == "floor":
        constraints = Path(session.create_tmp()) / "floor-constraints.txt"
        constraints.write_text("\n".join(floor_pins(str(session.python))) + "\n", encoding="utf-8")
        session.install("-e", INSTALL, "-c", str(constraints))
    else:
        session.install("-e", INSTALL)
    session.run(
        "python",
        "-c",
        "import sys, sqlalchemy, sqlmodel, pydantic; "
        "print('python', sys.version.split()[0], '| sqlalchemy', sqlalchemy.__version__, "
        "'| sqlmodel', sqlmodel.__version__, '| pydantic', pydantic.VERSION)",
    )
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs)
    doctests = ["--doctest-modules", "sqlmodel_crud_utils", "-q"]
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *doctests)
