"""The Python code stays formatted and lint-clean (settings in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def test_ruff_lint_and_format() -> None:
    for args in (["check", "orchestration", "tests"], ["format", "--check", "orchestration", "tests"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=PROJECT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
