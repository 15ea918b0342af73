"""The inbox: files of sales or restocks land exactly once, by content, then move aside."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import SIM_END_ISO, run_cli, write_small_shop

from orchestration import landing
from orchestration.sensors import inbox_sensor
from orchestration.sources import TransactionDatabase

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=timezone.utc)
T = int(NOW.timestamp())
HEADER = "id,pid,type,quantity,timestamp,customer_id\n"


def make_source(folder: Path) -> TransactionDatabase:
    database = folder / "transactions.sqlite"
    with sqlite3.connect(database) as connection:
        connection.executescript(
            f"""
            create table inventory_change(id integer primary key, pid integer not null, type text not null,
                quantity integer not null, timestamp integer not null, customer_id integer);
            create table products(id integer primary key, name text not null, sku text not null,
                price numeric not null, supplier_id integer);
            insert into products values (1, 'Mug', 'SKU-1', 4.5, null), (2, 'Cup', 'SKU-2', 3.0, null);
            insert into inventory_change values (1, 1, 'sale', 2, {T - 600}, 7), (2, 1, 'restock', 9, {T - 500}, null);
            """
        )
    return TransactionDatabase(f"sqlite:///{database}")


def land_all(root: Path, run_id: str = "run-1") -> landing.InboxLanding:
    """A landing run as the refresh does it: catalogue, transaction database, then the inbox."""
    source = make_source(root) if not (root / "transactions.sqlite").exists() else None
    source = source or TransactionDatabase(f"sqlite:///{root / 'transactions.sqlite'}")
    paths = landing.LandingPaths(root / "landing", root / "quarantine")
    run = landing.LandingRun(run_id=run_id, now=NOW, future_tolerance=timedelta(hours=24))
    landing.land_catalog(source, "products", root / "landing" / "products")
    landing.land_source_changes(source, paths, run)
    return landing.land_inbox(paths, root / "inbox", run)


def drop(root: Path, entity: str, name: str, content: str | bytes) -> Path:
    folder = root / "inbox" / entity
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def landed_ids(root: Path, entity: str) -> list[int]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"select id from read_parquet('{root}/landing/{entity}/*.parquet') order by id"
        )
        return [row[0] for row in rows.fetchall()]


def test_a_csv_file_lands_once_and_moves_to_processed(tmp_path: Path) -> None:
    drop(
        tmp_path,
        "sales",
        "backfill.csv",
        HEADER + f"10,1,sale,3,{T - 86_400},7\n11,2,sale,1,2026-11-20T08:00:00Z,\n",
    )
    outcome = land_all(tmp_path)
    (delivery,) = outcome.landed
    assert (delivery.entity, delivery.source_rows, delivery.landed_rows) == ("inbox_sales", 2, 2)
    assert landed_ids(tmp_path, "sales") == [1, 10, 11]
    assert (tmp_path / "inbox" / "sales" / "processed" / "backfill.csv").exists()
    assert not (tmp_path / "inbox" / "sales" / "backfill.csv").exists()
    manifest = pq.read_table(
        tmp_path / "landing" / "_manifests" / f"{delivery.delivery}.parquet"
    ).to_pylist()[0]
    assert manifest["origin"] == "inbox/sales/backfill.csv" and len(manifest["content_sha256"]) == 64


def test_the_same_content_dropped_twice_lands_once(tmp_path: Path) -> None:
    content = HEADER + f"20,1,restock,5,{T - 3_600},\n"
    drop(tmp_path, "restocks", "delivery.csv", content)
    land_all(tmp_path)
    before = sorted(p.name for p in (tmp_path / "landing" / "restocks").iterdir())
    drop(tmp_path, "restocks", "delivery.csv", content)  # same name, same content
    drop(tmp_path, "restocks", "delivery-copy.csv", content)  # other name, same content
    again = land_all(tmp_path, run_id="run-2")
    assert again.landed == [] and len(again.already_landed) == 2
    assert sorted(p.name for p in (tmp_path / "landing" / "restocks").iterdir()) == before
    assert landed_ids(tmp_path, "restocks") == [2, 20]
    assert len(list((tmp_path / "inbox" / "restocks" / "processed").iterdir())) == 3


def test_bad_rows_of_a_file_are_quarantined_and_old_ids_are_duplicates(tmp_path: Path) -> None:
    rows = [
        f"1,1,sale,2,{T - 600},7",  # already landed from the transaction database
        f"30,1,sale,2,{T - 600},7",
        f"30,1,sale,2,{T - 600},7",  # twice in one file
        f"31,1,restock,2,{T - 600},",  # a restock in the sales inbox
        f"32,,sale,2,{T - 600},7",
        "33,1,sale,2,not a time,7",
    ]
    drop(tmp_path, "sales", "mixed.csv", HEADER + "\n".join(rows) + "\n")
    (delivery,) = land_all(tmp_path).landed
    assert (delivery.source_rows, delivery.landed_rows, delivery.quarantined_rows) == (6, 1, 5)
    assert delivery.reasons == {
        "duplicate id": 2,
        "unknown type": 1,
        "missing pid": 1,
        "unparseable timestamp": 1,
    }
    quarantine = pq.read_table(tmp_path / "quarantine" / "inbox_sales" / f"{delivery.delivery}.parquet")
    assert set(quarantine.column("entity").to_pylist()) == {"inbox_sales"}
    assert "sales inbox" in quarantine.filter(pa.compute.equal(quarantine["id"], "31"))["detail"][0].as_py()


def test_a_parquet_file_with_typed_columns_lands(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([40, 41], pa.int64()),
            "pid": pa.array([1, 2], pa.int64()),
            "type": ["sale", "sale"],
            "quantity": pa.array([1.0, 2.0]),  # as pandas writes a column with gaps
            "timestamp": pa.array([T - 60, T - 30], pa.int64()),
            "customer_id": pa.array([7.0, None]),
        }
    )
    folder = tmp_path / "inbox" / "sales"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "export.parquet")
    (delivery,) = land_all(tmp_path).landed
    assert delivery.landed_rows == 2


def test_unreadable_files_are_rejected_with_a_reason(tmp_path: Path) -> None:
    drop(tmp_path, "sales", "garbage.parquet", b"\x00\x01 not parquet at all")
    drop(tmp_path, "sales", "columns.csv", "id,product,qty\n1,2,3\n")
    drop(tmp_path, "restocks", "notes.txt", "call the supplier")
    drop(tmp_path, "sales", "good.csv", HEADER + f"50,1,sale,1,{T - 60},7\n")
    outcome = land_all(tmp_path)
    reasons = {r.path.name: r.reason for r in outcome.rejected}
    assert "not a valid Parquet file" in reasons["garbage.parquet"]
    assert "lacks column(s) pid, type, quantity, timestamp" in reasons["columns.csv"]
    assert "not a .csv or .parquet file" in reasons["notes.txt"]
    rejected = tmp_path / "inbox" / "sales" / "rejected"
    assert (rejected / "columns.csv").exists()
    assert "lacks column(s)" in (rejected / "columns.csv.rejected.txt").read_text()
    assert [d.origin for d in outcome.landed] == ["inbox/sales/good.csv"]


def test_the_sensor_asks_for_one_refresh_per_drop(data_dir: Path) -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        assert isinstance(inbox_sensor(context), dg.SkipReason)
        drop(data_dir, "sales", "drop.csv", HEADER)
        result = inbox_sensor(dg.build_sensor_context(instance=instance))
        (request,) = result.run_requests
        assert request.job_name in (None, "refresh")
        # a refresh as of now, in the partition holding now
        assert request.run_config == {"resources": {"refresh": {"config": {"as_of": SIM_END_ISO}}}}
        assert request.partition_key == "2026-11-21-11:00"
        again = inbox_sensor(dg.build_sensor_context(instance=instance)).run_requests[0]
        assert again.run_key == request.run_key  # the same files: Dagster starts no second run


def test_a_refresh_lands_the_inbox_and_goes_on_past_a_broken_file(data_dir: Path) -> None:
    write_small_shop(data_dir)
    backfill = HEADER + f"900001,1,sale,2,{T - 7_200},3\n900002,1,sale,0,{T - 7_200},3\n"
    drop(data_dir, "sales", "backfill.csv", backfill)
    first = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert first.returncode == 0, first.stdout + first.stderr

    drop(data_dir, "sales", "backfill-again.csv", backfill)  # the same content dropped twice
    drop(data_dir, "restocks", "broken.parquet", b"PAR1 truncated")
    second = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "rejected 1 inbox file(s)" in second.stdout
    assert (data_dir / "inbox" / "restocks" / "rejected" / "broken.parquet").exists()
    assert sorted(p.name for p in (data_dir / "inbox" / "sales" / "processed").iterdir()) == [
        "backfill-again.csv",
        "backfill.csv",
    ]
    with duckdb.connect(str(data_dir / "mart" / "analytics.duckdb"), read_only=True) as mart:
        inbox_rows = mart.execute(
            "select source_rows, landed_rows, quarantined_rows from landing_reconciliation "
            "where entity = 'inbox_sales'"
        ).fetchall()
        set_aside = mart.execute(
            "select id, reason from quarantined_rows where entity = 'inbox_sales'"
        ).fetchall()
    assert inbox_rows == [(2, 1, 1)]  # the second drop landed nothing
    assert set_aside == [("900002", "non-positive quantity")]
    assert landed_ids(data_dir, "sales").count(900001) == 1
