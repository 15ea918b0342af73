"""One refresh writes the warehouse at a time: a second one waits instead of failing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from orchestration.settings import load_settings
from orchestration.warehouse_lock import hold_warehouse_lock


def _log_says(logs: Path, text: str) -> bool:
    return any(text in path.read_text(errors="replace") for path in logs.glob("*.log"))


def test_a_refresh_waits_for_the_run_holding_the_warehouse(small_shop: Path) -> None:
    settings = load_settings()
    with hold_warehouse_lock(settings.warehouse_lock_path, report=lambda _: None):
        refresh = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "refresh"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 300
        while not _log_says(small_shop / "logs", "waiting for the refresh that holds"):
            assert refresh.poll() is None, refresh.communicate()
            assert time.monotonic() < deadline, "the refresh never reached the warehouse lock"
            time.sleep(0.5)
        time.sleep(2)
        assert refresh.poll() is None, "the refresh ran on while another held the warehouse"
        assert not (small_shop / "mart" / "analytics.duckdb").exists()
    stdout, stderr = refresh.communicate(timeout=600)
    assert refresh.returncode == 0, stdout + stderr
    assert (small_shop / "mart" / "analytics.duckdb").exists()
    assert _log_says(small_shop / "logs", "got the warehouse lock")
