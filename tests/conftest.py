"""Shared fixtures: every test gets its own data folder, never the project's data/."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

# Real PostgreSQL and Redis servers, for the tests of the source systems.
from servers import postgres_server, postgres_url, redis_server, redis_url  # noqa: F401

from orchestration.simulator import ShopSpec, simulate_shop, write_shop_to_sqlite

PROJECT_README = Path(__file__).resolve().parent.parent / "README.md"

# A fixed instant so that simulated shops and refreshes are reproducible.
SIM_END = datetime(2026, 11, 21, 12, 0, 0, tzinfo=timezone.utc)
SIM_END_ISO = "2026-11-21T12:00:00Z"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh STOCKOUT_DATA_DIR (and DAGSTER_HOME inside it) with "now" pinned to SIM_END."""
    folder = tmp_path / "data"
    folder.mkdir()
    home = folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("STOCKOUT_DATA_DIR", str(folder))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("STOCKOUT_NOW", SIM_END_ISO)
    for name in ("STOCKOUT_TRANSACTIONS_URL", "STOCKOUT_INVENTORY_URL"):
        monkeypatch.delenv(name, raising=False)
    return folder


def write_small_shop(data_dir: Path, **spec: int) -> None:
    """Simulate a small shop into data_dir/sources (the SQLite defaults)."""
    shop = simulate_shop(
        ShopSpec(**{"products": 60, "customers": 30, "sales_per_day": 120, "days": 35, **spec}, end=SIM_END)
    )
    sources = data_dir / "sources"
    write_shop_to_sqlite(shop, sources / "transactions.sqlite", sources / "inventory.sqlite")


@pytest.fixture
def small_shop(data_dir: Path) -> Path:
    write_small_shop(data_dir)
    return data_dir


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`stockout ...` in a separate process, with the current environment (plus `env`)."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
