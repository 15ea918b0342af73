"""dbt's own unit tests (`unit_tests:` in dbt_project/models/*/_*__unit_tests.yml): every
formula of DESIGN.md §4 on hand-computed rows. They run here, not in every refresh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.landing import MANIFEST_SCHEMA, QUARANTINE_SCHEMA, SNAPSHOT_SCHEMA
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.sources import INVENTORY_CHANGE_SCHEMA, PRODUCTS_SCHEMA, SUPPLIERS_SCHEMA

DBT = [sys.executable, "-c", "from dbt.cli.main import cli; cli()"]
EMPTY_LANDING = {
    "landing/sales": INVENTORY_CHANGE_SCHEMA,
    "landing/restocks": INVENTORY_CHANGE_SCHEMA,
    "landing/inventory_snapshots": SNAPSHOT_SCHEMA,
    "landing/products": PRODUCTS_SCHEMA,
    "landing/suppliers": SUPPLIERS_SCHEMA,
    "landing/_manifests": MANIFEST_SCHEMA,
    "quarantine/inventory_change": QUARANTINE_SCHEMA,
}


def dbt(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *DBT,
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(data_dir / "dbt_target"),
            "--vars",
            '{"as_of": "2026-11-21T12:00:00Z"}',
        ],
        env={**os.environ, "STOCKOUT_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_dbt_unit_test_passes(tmp_path: Path) -> None:
    # Unit tests read their inputs' columns from the database: build every model empty first.
    for folder, schema in EMPTY_LANDING.items():
        (tmp_path / folder).mkdir(parents=True)
        pq.write_table(pa.Table.from_batches([], schema=schema), tmp_path / folder / "empty.parquet")
    (tmp_path / "warehouse").mkdir()
    built = dbt("run", "--empty", data_dir=tmp_path)
    assert built.returncode == 0, built.stdout[-3000:]

    tested = dbt("test", "--select", "test_type:unit", data_dir=tmp_path)
    assert tested.returncode == 0, tested.stdout[-5000:]
    summary = [line for line in tested.stdout.splitlines() if "Done. PASS=" in line][-1]
    passed = int(summary.split("PASS=")[1].split()[0])
    total = int(summary.split("TOTAL=")[1].split()[0])
    assert passed == total >= 15, summary
