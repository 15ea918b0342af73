"""The new-source-rows sensor asks for a refresh when, and only when, there is something new."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dagster as dg
from conftest import SIM_END_ISO, run_cli, write_small_shop

from orchestration.sensors import new_source_rows


def _evaluate() -> dg.RunRequest | dg.SkipReason:
    with dg.instance_for_test() as instance:
        return new_source_rows(dg.build_sensor_context(instance=instance))


def test_new_source_rows_start_one_refresh_as_of_now(data_dir: Path) -> None:
    write_small_shop(data_dir)
    with sqlite3.connect(data_dir / "sources" / "transactions.sqlite") as conn:
        (newest,) = conn.execute("select max(id) from inventory_change").fetchone()

    request = _evaluate()
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == f"source-id-{newest}"  # one run per newest id, however many ticks
    assert request.partition_key == "2026-11-21-11:00"
    assert request.run_config == {"resources": {"refresh": {"config": {"as_of": SIM_END_ISO}}}}

    refreshed = run_cli("refresh")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert isinstance(_evaluate(), dg.SkipReason)

    with sqlite3.connect(data_dir / "sources" / "transactions.sqlite") as conn:
        conn.execute(
            "insert into inventory_change(id, pid, type, quantity, timestamp, customer_id) "
            "select max(id) + 1, 1, 'sale', 1, 1795262000, 1 from inventory_change"
        )
    again = _evaluate()
    assert isinstance(again, dg.RunRequest) and again.run_key == f"source-id-{newest + 1}"
