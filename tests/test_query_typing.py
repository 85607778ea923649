"""`Q` is precisely typed: mypy --strict accepts tests/typing_q.py and the package."""

from __future__ import annotations

from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # still part of the default run
def test_typing_file_and_package_pass_mypy_strict(tmp_path):
    stdout, stderr, status = mypy_api.run(
        [
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(ROOT / "tests" / "typing_q.py"),
            str(ROOT / "sqlmodel_crud_utils"),
        ]
    )
    assert status == 0, stdout + stderr
    assert "Success: no issues found" in stdout


def test_typing_file_catches_a_wrong_type(tmp_path):
    """The check is not vacuous: a wrong assertion fails."""
    wrong = tmp_path / "wrong_q.py"
    wrong.write_text(
        "from sqlmodel import Session\n"
        "from typing_extensions import assert_type\n"
        "from sqlmodel_crud_utils import Q\n"
        "from tests.models import Hero\n"
        "def f(s: Session) -> None:\n"
        "    assert_type(Q(Hero).first(s), Hero)\n"
    )
    stdout, _, status = mypy_api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), str(wrong)]
    )
    assert status == 1
    assert "assert-type" in stdout
    assert "Hero | None" in stdout
