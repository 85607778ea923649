"""Every ```python block of README.md and docs/*.md runs, so the docs cannot rot.

Each page runs in a fresh Python process (its own models and metadata), its
blocks concatenated in order, from a temporary directory, with plain script
semantics: what a reader pastes into a ``.py`` file must run, so a top-level
``await`` / ``async with`` is a failure (async examples use ``async def
main()`` and ``asyncio.run(main())``). Each page runs twice in the same
directory and both runs must succeed, so an example that leaves a file behind
(a SQLite database, ...) must cope with finding it on the next run. Pages
without python blocks are not collected.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# Plain script semantics: no compile flags, so a top-level await is a SyntaxError.
RUNNER = """
import sys
source = open(sys.argv[1], encoding="utf-8").read()
code = compile(source, sys.argv[2], "exec", dont_inherit=True)
exec(code, {"__name__": "__main__"})
"""
RUNS = 2  # the second run finds whatever the first one left in the directory


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def page_source(page: Path) -> str:
    """The page's python blocks joined in order, padded with blank lines so
    a traceback's line numbers match the markdown file."""
    text = page.read_text(encoding="utf-8")
    lines = [""] * text.count("\n")
    for match in BLOCK.finditer(text):
        first = text.count("\n", 0, match.start(1))
        for offset, line in enumerate(match.group(1).splitlines()):
            lines[first + offset] = line
    return "\n".join(lines) + "\n"


PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page)]


def test_pages_are_found() -> None:
    assert any(page.name == "query.md" for page in PAGES_WITH_CODE)
    assert any(page.name == "README.md" for page in PAGES_WITH_CODE)


@pytest.mark.parametrize(
    "page", PAGES_WITH_CODE, ids=[str(p.relative_to(ROOT)) for p in PAGES_WITH_CODE]
)
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    script = tmp_path / "page.py"
    script.write_text(page_source(page), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    # as pyproject.toml's filterwarnings: deprecations are errors, except
    # the two that the Starlette of FastAPI's floor (0.110) raises itself
    env["PYTHONWARNINGS"] = ",".join(
        [
            "error::DeprecationWarning",
            "ignore:The anyio.abc.BlockingPortal alias is deprecated:DeprecationWarning",
            "ignore:The 'app' shortcut is now deprecated:DeprecationWarning",
        ]
    )
    for run in range(1, RUNS + 1):
        completed = subprocess.run(
            [sys.executable, "-c", RUNNER, str(script), str(page)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, (
            f"{page.relative_to(ROOT)} failed on run {run} of {RUNS}:\n"
            f"{completed.stdout}\n{completed.stderr}"
        )


def test_top_level_await_is_refused(tmp_path: Path) -> None:
    """The runner compiles like a script: a top-level await cannot slip through."""
    script = tmp_path / "page.py"
    script.write_text("import asyncio\nawait asyncio.sleep(0)\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, str(script), "page.md"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode != 0
    assert "SyntaxError" in completed.stderr


MARKER = re.compile(r"^<!-- (sql|text|executed|md)\b", re.MULTILINE)
RENDERER = ROOT / "docs" / "_tools" / "render.py"
GENERATED = [page for page in PAGES if MARKER.search(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", GENERATED, ids=[str(p.relative_to(ROOT)) for p in GENERATED])
def test_generated_sql_is_current(page: Path, tmp_path: Path) -> None:
    """The ```sql / ```text blocks under ``<!-- sql: ... -->`` markers are
    what the code above them produces today."""
    completed = subprocess.run(
        [sys.executable, str(RENDERER), "--check", str(page)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
