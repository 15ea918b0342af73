"""Bad input is set aside with a reason, never dropped: rows in = rows landed + rows quarantined."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import SIM_END, SIM_END_ISO, run_cli, write_small_shop

from orchestration import checks, landing
from orchestration.sources import TransactionDatabase

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=timezone.utc)
T = int(NOW.timestamp())
FAR_FUTURE = T + 30 * 86_400

# (id, pid, type, quantity, timestamp, customer_id), the reason expected, a word of the detail.
BAD_ROWS = [
    ((101, 1, "return", 2, T - 60, None), "unknown type", "'return'"),
    ((102, 1, "sale", 0, T - 60, 7), "non-positive quantity", "quantity 0"),
    ((103, 1, "restock", -5, T - 60, None), "non-positive quantity", "quantity -5"),
    ((104, "", "sale", 1, T - 60, 7), "missing pid", "pid ''"),
    ((105, 999, "sale", 1, T - 60, 7), "unknown product", "pid 999"),
    ((106, 1, "sale", 1, "yesterday", 7), "unparseable timestamp", "'yesterday'"),
    ((107, 1, "sale", 1, FAR_FUTURE, 7), "far-future timestamp", str(FAR_FUTURE)),
    ((108, 1, "sale", "two", T - 60, 7), "unparseable quantity", "'two'"),
]


def make_source(folder: Path, rows: list[tuple]) -> TransactionDatabase:
    """A transaction database as loose as SQLite allows: typed columns still accept text."""
    database = folder / "transactions.sqlite"
    with sqlite3.connect(database) as connection:
        connection.executescript(
            """
            create table inventory_change(id integer primary key, pid integer, type text,
                quantity integer, timestamp integer, customer_id integer);
            create table products(id integer primary key, name text not null, sku text not null,
                price numeric not null, supplier_id integer);
            insert into products values (1, 'Mug', 'SKU-1', 4.5, null), (2, 'Cup', 'SKU-2', 3.0, null);
            """
        )
        connection.executemany("insert into inventory_change values (?, ?, ?, ?, ?, ?)", rows)
    return TransactionDatabase(f"sqlite:///{database}")


def land(source: TransactionDatabase, root: Path, now: datetime = NOW) -> list[landing.LandedDelivery]:
    paths = landing.LandingPaths(root / "landing", root / "quarantine")
    landing.land_catalog(source, "products", root / "landing" / "products")
    run = landing.LandingRun(run_id="run-1", now=now, future_tolerance=timedelta(hours=24))
    return landing.land_source_changes(source, paths, run)


def quarantined(root: Path) -> dict[str, tuple[str, str]]:
    """Quarantined rows by delivered id: (reason, detail)."""
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"select id, reason, detail from read_parquet('{root}/quarantine/*/*.parquet')"
        ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


@pytest.mark.parametrize("row, reason, detail", BAD_ROWS, ids=[r[1] + f" {r[0][0]}" for r in BAD_ROWS])
def test_each_bad_row_is_quarantined_with_its_reason(
    tmp_path: Path, row: tuple, reason: str, detail: str
) -> None:
    good = (1, 1, "sale", 2, T - 120, 7)
    source = make_source(tmp_path, [good, row])
    (delivery,) = land(source, tmp_path)
    assert (delivery.source_rows, delivery.landed_rows, delivery.quarantined_rows) == (2, 1, 1)
    found_reason, found_detail = quarantined(tmp_path)[str(row[0])]
    assert found_reason == reason and detail in found_detail
    sales = pq.read_table(tmp_path / "landing" / "sales" / f"{delivery.delivery}.parquet")
    assert sales.column("id").to_pylist() == [1]


def test_a_timestamp_within_the_tolerance_lands(tmp_path: Path) -> None:
    source = make_source(tmp_path, [(1, 1, "sale", 2, T + 3_600, 7)])
    (delivery,) = land(source, tmp_path)
    assert delivery.landed == {"sale": 1, "restock": 0}


def test_an_id_already_landed_is_a_duplicate(tmp_path: Path) -> None:
    """An inbox back-fill landed an id; the source delivers it later: it counts once."""
    source = make_source(tmp_path, [(1, 1, "sale", 2, T - 60, 7)])
    land(source, tmp_path)
    inbox_sales = tmp_path / "inbox" / "sales"
    inbox_sales.mkdir(parents=True)
    (inbox_sales / "backfill.csv").write_text(
        "id,pid,type,quantity,timestamp,customer_id\n1,1,sale,2,1795000000,7\n5,2,sale,1,1795000000,7\n"
    )
    paths = landing.LandingPaths(tmp_path / "landing", tmp_path / "quarantine")
    run = landing.LandingRun(run_id="run-2", now=NOW, future_tolerance=timedelta(hours=24))
    (from_file,) = landing.land_inbox(paths, tmp_path / "inbox", run).landed
    assert (from_file.landed_rows, from_file.quarantined_rows) == (1, 1)
    with sqlite3.connect(tmp_path / "transactions.sqlite") as connection:
        connection.execute("insert into inventory_change values (5, 2, 'sale', 1, ?, 7)", (T - 30,))
    (later,) = land(source, tmp_path)
    assert later.quarantined_rows == 1
    reasons = quarantined(tmp_path)
    assert reasons["1"] == ("duplicate id", "id 1 was already landed")
    assert reasons["5"] == ("duplicate id", "id 5 was already landed")


def test_the_freshness_rule() -> None:
    max_age = timedelta(hours=48)
    assert checks.freshness_failure(NOW - timedelta(hours=47), NOW, max_age) is None
    stale = checks.freshness_failure(NOW - timedelta(hours=49), NOW, max_age)
    assert stale and "49.0 h" in stale and "STOCKOUT_MAX_EVENT_AGE_HOURS" in stale
    assert "no landed" in checks.freshness_failure(None, NOW, max_age)


def _insert_bad_rows(transactions: Path) -> None:
    with sqlite3.connect(transactions) as connection:
        first = connection.execute("select max(id) from inventory_change").fetchone()[0] + 1
        connection.executemany(
            "insert into inventory_change values (?, ?, ?, ?, ?, ?)",
            [(first + i, *row[1:]) for i, (row, _, _) in enumerate(BAD_ROWS)],
        )
        # An unknown product of the simulated shop's range, an hour old: pid beyond the catalogue.
        (top,) = connection.execute("select max(id) from products").fetchone()
        connection.execute(
            "insert into inventory_change values (?, ?, 'sale', 1, ?, 1)", (first + 50, top + 1, T - 3_600)
        )


def test_a_refresh_publishes_every_quarantined_row_and_the_counts_reconcile(data_dir: Path) -> None:
    write_small_shop(data_dir)
    transactions = data_dir / "sources" / "transactions.sqlite"
    with sqlite3.connect(transactions) as connection:
        (source_rows,) = connection.execute("select count(*) from inventory_change").fetchone()
    _insert_bad_rows(transactions)
    refreshed = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert f"quarantined {len(BAD_ROWS) + 1} rows" in refreshed.stdout

    with duckdb.connect(str(data_dir / "mart" / "analytics.duckdb"), read_only=True) as mart:
        reasons = mart.execute(
            "select reason, count(*) from quarantined_rows where entity = 'inventory_change' group by reason"
        ).fetchall()
        reconciled = mart.execute(
            "select entity, source_rows, landed_rows, quarantined_rows, as_of from landing_reconciliation"
        ).fetchall()
        (sales_published,) = mart.execute("select sum(units_sold_7d) from days_to_stockout").fetchone()
    expected: dict[str, int] = {}
    for _, reason, _ in BAD_ROWS:
        expected[reason] = expected.get(reason, 0) + 1
    expected["unknown product"] += 1
    assert dict(reasons) == expected
    ((entity, delivered, landed_rows, set_aside, as_of),) = reconciled
    assert entity == "inventory_change" and as_of == SIM_END.replace(tzinfo=None)
    assert delivered == source_rows + len(BAD_ROWS) + 1
    assert (landed_rows, set_aside) == (source_rows, len(BAD_ROWS) + 1)
    assert sales_published > 0


def test_a_source_missing_a_column_fails_and_publishes_nothing(data_dir: Path) -> None:
    write_small_shop(data_dir)
    with sqlite3.connect(data_dir / "sources" / "transactions.sqlite") as connection:
        connection.execute("alter table inventory_change drop column quantity")
    refreshed = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert refreshed.returncode == 1
    assert "inventory_change" in refreshed.stdout and "lacks column(s) quantity" in refreshed.stdout
    assert "nothing was published" in refreshed.stdout
    assert not (data_dir / "mart" / "analytics.duckdb").exists()
    assert not (data_dir / "mart" / "versions").exists()
    assert not list((data_dir / "landing").glob("sales/*.parquet"))


def test_stale_events_block_publishing(data_dir: Path) -> None:
    write_small_shop(data_dir)
    three_days_later = "2026-11-24T12:00:00Z"
    refreshed = run_cli("refresh", "--as-of", three_days_later)
    assert refreshed.returncode == 1
    assert "at_risk_table_is_publishable" in refreshed.stdout
    assert "STOCKOUT_MAX_EVENT_AGE_HOURS" in refreshed.stdout
    assert not (data_dir / "mart" / "analytics.duckdb").exists()
