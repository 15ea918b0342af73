"""Analysts read while refreshes run, and refreshes die mid-way: no error, no torn read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
from conftest import SIM_END_ISO, run_cli

READER = textwrap.dedent(
    """
    import os, sys, time, duckdb
    mart, stop_file = sys.argv[1], sys.argv[2]
    queries = errors = 0
    seen = set()
    while not os.path.exists(stop_file):
        time.sleep(0.05)  # an analyst's pace, not a busy loop on two cores
        try:
            with duckdb.connect(mart, read_only=True) as con:
                instants = con.execute(
                    "select distinct as_of from ("
                    " select as_of from at_risk_in_a_week union all select as_of from days_to_stockout"
                    " union all select as_of from product_velocity)"
                ).fetchall()
                version = con.execute("select version from mart_published").fetchone()[0]
            if len(instants) != 1:
                print(f"TORN {version} {instants}", flush=True)
                errors += 1
            seen.add(str(instants[0][0]))
            queries += 1
        except Exception as error:  # any error is a failure of the mart's promise
            print(f"ERROR {type(error).__name__}: {error}", flush=True)
            errors += 1
    print(f"DONE {queries} {errors} {'|'.join(sorted(seen))}", flush=True)
    """
)


def test_twelve_readers_during_three_refreshes(small_shop) -> None:
    assert run_cli("refresh", "--as-of", "2026-11-21T09:00:00Z").returncode == 0
    mart = str(small_shop / "mart" / "analytics.duckdb")
    stop_file = small_shop / "stop_readers"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, mart, str(stop_file)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(12)
    ]
    try:
        for as_of in ("2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z", SIM_END_ISO):
            refreshed = run_cli("refresh", "--as-of", as_of, "--accept-anomalies")
            assert refreshed.returncode == 0, refreshed.stdout
    finally:
        stop_file.touch()
        outputs = [reader.communicate(timeout=300)[0] for reader in readers]
    summaries = [line for output in outputs for line in output.splitlines() if line.startswith("DONE")]
    problems = [line for output in outputs for line in output.splitlines() if not line.startswith("DONE")]
    assert len(summaries) == 12 and not problems, problems[:5]
    total_queries = sum(int(line.split()[1]) for line in summaries)
    assert total_queries > 100
    instants_seen = set("|".join(line.split(maxsplit=3)[3] for line in summaries).split("|"))
    assert len(instants_seen) >= 2, "readers should have seen refreshes land while they read"


def test_killed_refreshes_leave_a_whole_mart_and_converge(small_shop) -> None:
    assert run_cli("refresh", "--as-of", "2026-11-21T09:00:00Z").returncode == 0
    mart = small_shop / "mart" / "analytics.duckdb"
    environment = {**os.environ}
    for delay in (3.0, 9.0, 15.0):  # while landing, while dbt builds, around publish
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "refresh", "--as-of", SIM_END_ISO],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        with duckdb.connect(str(mart), read_only=True) as connection:
            (instants,) = connection.execute("select count(distinct as_of) from days_to_stockout").fetchone()
            (as_of,) = connection.execute("select max(as_of) from days_to_stockout").fetchone()
        assert instants == 1 and str(as_of) in {"2026-11-21 09:00:00", "2026-11-21 12:00:00"}
    # After all that, a refresh runs through and publishes the same rows as an untroubled one.
    final = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert final.returncode == 0, final.stdout
    with duckdb.connect(str(mart), read_only=True) as connection:
        published = connection.execute("select * from days_to_stockout order by product_id").fetchall()
    clean = small_shop.parent / "clean"
    clean.mkdir()
    (clean / "dagster_home").mkdir()
    (clean / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (clean / "sources").symlink_to(small_shop / "sources")
    environment = {"STOCKOUT_DATA_DIR": str(clean), "DAGSTER_HOME": str(clean / "dagster_home")}
    assert run_cli("refresh", "--as-of", SIM_END_ISO, env=environment).returncode == 0
    with duckdb.connect(str(clean / "mart" / "analytics.duckdb"), read_only=True) as connection:
        assert (
            connection.execute("select * from days_to_stockout order by product_id").fetchall() == published
        )


def _kill_when_present(process: subprocess.Popen, folder: Path, pattern: str, timeout: float = 300) -> bool:
    """SIGKILL the refresh the moment a file or folder matching `pattern` appears in `folder`
    (publish's hidden in-progress names); False when the refresh ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(folder.glob(pattern)):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError(f"nothing matching {pattern} appeared in {folder}")


def test_a_refresh_killed_during_publish_leaves_the_old_or_the_new_mart(small_shop) -> None:
    assert run_cli("refresh", "--as-of", "2026-11-21T09:00:00Z").returncode == 0
    mart_dir = small_shop / "mart"
    # first while the new version's Parquet files are written, then while the new
    # analytics.duckdb is built, just before it is renamed over the old one
    for folder, pattern in ((mart_dir / "versions", ".*.inprogress"), (mart_dir, ".analytics.*.inprogress")):
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "refresh", "--as-of", SIM_END_ISO],
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert _kill_when_present(process, folder, pattern), f"the refresh finished before {pattern} was seen"
        with duckdb.connect(str(mart_dir / "analytics.duckdb"), read_only=True) as connection:
            (instants,) = connection.execute("select count(distinct as_of) from days_to_stockout").fetchone()
            (as_of,) = connection.execute("select max(as_of) from days_to_stockout").fetchone()
            (at_risk,) = connection.execute("select count(*) from at_risk_in_a_week").fetchone()
        assert instants == 1 and str(as_of) in {"2026-11-21 09:00:00", "2026-11-21 12:00:00"}
        assert at_risk >= 0
    final = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert final.returncode == 0, final.stdout + final.stderr
    with duckdb.connect(str(mart_dir / "analytics.duckdb"), read_only=True) as connection:
        (as_of,) = connection.execute("select max(as_of) from days_to_stockout").fetchone()
    assert str(as_of) == "2026-11-21 12:00:00"
