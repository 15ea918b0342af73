"""Landing: atomic, idempotent, high-water-marked copies of the sources."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration import landing
from orchestration.sources import InventoryService, SourceError, TransactionDatabase

READ_AT = datetime(2026, 11, 21, 12, 0, 0, tzinfo=timezone.utc)


def make_sources(folder: Path) -> tuple[TransactionDatabase, InventoryService, Path]:
    transactions = folder / "transactions.sqlite"
    with sqlite3.connect(transactions) as connection:
        connection.executescript(
            """
            create table inventory_change(id integer primary key, pid integer not null, type text not null,
                quantity integer not null, timestamp integer not null, customer_id integer);
            create table products(id integer primary key, name text not null, sku text not null,
                price numeric not null, supplier_id integer);
            create table suppliers(id integer primary key, name text not null, lead_time_days integer not null);
            insert into suppliers values (1, 'Acme', 3);
            insert into products values (1, 'Mug', 'SKU-1', 4.5, 1), (2, 'Cup', 'SKU-2', 3.0, 1);
            insert into inventory_change values
                (1, 1, 'sale', 2, 1000, 7), (2, 1, 'restock', 10, 1100, null), (3, 2, 'sale', 1, 1200, 8);
            """
        )
    inventory = folder / "inventory.sqlite"
    with sqlite3.connect(inventory) as connection:
        connection.executescript(
            """
            create table inventory(pid integer primary key, quantity integer not null, updated_at integer not null);
            insert into inventory values (1, 8, 1100), (2, 4, 1200);
            """
        )
    return (
        TransactionDatabase(f"sqlite:///{transactions}"),
        InventoryService(f"sqlite:///{inventory}"),
        transactions,
    )


def add_change(transactions: Path, row: tuple) -> None:
    with sqlite3.connect(transactions) as connection:
        connection.execute("insert into inventory_change values (?, ?, ?, ?, ?, ?)", row)


RUN = landing.LandingRun(run_id="run-1", now=READ_AT, future_tolerance=timedelta(hours=24))


def land_movements(source: TransactionDatabase, root: Path) -> list[landing.LandedDelivery]:
    """Land the catalogue, then the movements, as a refresh does."""
    paths = landing.LandingPaths(landing_dir=root / "landing", quarantine_dir=root / "quarantine")
    landing.land_catalog(source, "products", root / "landing" / "products")
    return landing.land_source_changes(source, paths, RUN)


def file_contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_sales_and_restocks_land_by_type_from_one_read(tmp_path: Path) -> None:
    source, _, _ = make_sources(tmp_path)
    (delivery,) = land_movements(source, tmp_path)
    assert delivery.landed == {"sale": 2, "restock": 1} and delivery.quarantined_rows == 0
    name = "changes_000000000001_000000000003.parquet"
    sales = pq.read_table(tmp_path / "landing" / "sales" / name)
    assert sales.column_names == ["id", "pid", "type", "quantity", "timestamp", "customer_id"]
    assert sales.schema.field("id").type == pa.int64()
    assert sales.column("id").to_pylist() == [1, 3]
    assert pq.read_table(tmp_path / "landing" / "restocks" / name).column("customer_id").to_pylist() == [None]
    manifest = pq.read_table(tmp_path / "landing" / "_manifests" / name).to_pylist()[0]
    assert (manifest["source_rows"], manifest["landed_rows"], manifest["quarantined_rows"]) == (3, 3, 0)


def test_rerun_lands_nothing_and_leaves_the_files_as_they_were(tmp_path: Path) -> None:
    source, _, _ = make_sources(tmp_path)
    land_movements(source, tmp_path)
    before = file_contents(tmp_path / "landing")
    assert land_movements(source, tmp_path) == []
    assert file_contents(tmp_path / "landing") == before
    paths = landing.LandingPaths(tmp_path / "landing", tmp_path / "quarantine")
    assert landing.landed_high_water_mark(paths) == 3


def test_late_event_lands_in_the_next_file(tmp_path: Path) -> None:
    source, _, transactions = make_sources(tmp_path)
    land_movements(source, tmp_path)
    add_change(transactions, (4, 2, "sale", 3, 900, 9))  # new id, timestamp before all others
    (late,) = land_movements(source, tmp_path)
    assert late.delivery == "changes_000000000004_000000000004"
    late_sales = pq.read_table(tmp_path / "landing" / "sales" / "changes_000000000004_000000000004.parquet")
    assert late_sales.column("timestamp").to_pylist() == [900]


def test_an_id_that_commits_below_the_high_water_mark_lands_once(tmp_path: Path) -> None:
    # PostgreSQL: ids 4 and 6 were handed out before 5 and 7, but committed after the range
    # up to 7 had landed. Id 8 is quarantined (unknown product) and stays accounted for.
    source, _, transactions = make_sources(tmp_path)
    for row in [(5, 1, "sale", 1, 1300, 7), (7, 2, "restock", 5, 1400, None), (8, 99, "sale", 1, 1500, 7)]:
        add_change(transactions, row)
    land_movements(source, tmp_path)
    paths = landing.LandingPaths(tmp_path / "landing", tmp_path / "quarantine")
    assert landing.landed_high_water_mark(paths) == 8
    assert landing.land_late_commits(source, paths, RUN, lookback_ids=100) is None
    add_change(transactions, (4, 2, "sale", 3, 1250, 9))
    add_change(transactions, (6, 1, "restock", 2, 1350, None))

    late = landing.land_late_commits(source, paths, RUN, lookback_ids=100)
    assert late is not None and late.delivery == "changes_000000000004_000000000006_late"
    assert late.landed == {"sale": 1, "restock": 1} and late.source_rows == 2
    assert pq.read_table(tmp_path / "landing" / "sales" / f"{late.delivery}.parquet")["id"].to_pylist() == [4]
    # landed once: the next landing finds nothing, and the mark is unchanged
    before = file_contents(tmp_path / "landing")
    assert landing.land_late_commits(source, paths, RUN, lookback_ids=100) is None
    assert land_movements(source, tmp_path) == []
    assert file_contents(tmp_path / "landing") == before
    assert landing.landed_high_water_mark(paths) == 8


def test_late_commits_are_looked_for_only_within_the_lookback(tmp_path: Path) -> None:
    source, _, transactions = make_sources(tmp_path)
    for row in [(5, 1, "sale", 1, 1300, 7), (9, 1, "sale", 1, 1400, 7)]:
        add_change(transactions, row)
    land_movements(source, tmp_path)
    add_change(transactions, (4, 2, "sale", 3, 1250, 9))
    paths = landing.LandingPaths(tmp_path / "landing", tmp_path / "quarantine")
    assert landing.land_late_commits(source, paths, RUN, lookback_ids=5) is None  # ids 5..9
    assert landing.land_late_commits(source, paths, RUN, lookback_ids=0) is None  # switched off
    late = landing.land_late_commits(source, paths, RUN, lookback_ids=6)  # ids 4..9
    assert late is not None and late.landed == {"sale": 1, "restock": 0}


def test_every_delivery_writes_every_file_even_when_empty(tmp_path: Path) -> None:
    source, _, transactions = make_sources(tmp_path)
    land_movements(source, tmp_path)
    add_change(transactions, (4, 2, "sale", 3, 1300, 9))  # nothing new for restocks
    (landed,) = land_movements(source, tmp_path)
    assert landed.landed == {"sale": 1, "restock": 0}
    name = "changes_000000000004_000000000004.parquet"
    assert pq.read_table(tmp_path / "landing" / "restocks" / name).num_rows == 0
    assert pq.read_table(tmp_path / "quarantine" / "inventory_change" / name).num_rows == 0


def test_a_crash_mid_write_leaves_no_visible_file(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.int64())])

    def failing_batches():
        yield pa.record_batch([pa.array([1, 2])], schema=schema)
        raise RuntimeError("killed mid-write")

    target = tmp_path / "sales" / "changes_000000000001_000000000002.parquet"
    with pytest.raises(RuntimeError):
        landing.write_parquet_atomically(failing_batches(), schema, target)
    assert list((tmp_path / "sales").iterdir()) == []


def test_leftovers_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    source, _, _ = make_sources(tmp_path)
    folder = tmp_path / "landing" / "sales"
    folder.mkdir(parents=True)
    (folder / ".changes_000000000001_000000000003.parquet.123.inprogress").write_bytes(b"partial")
    land_movements(source, tmp_path)
    assert [p.name for p in folder.iterdir()] == ["changes_000000000001_000000000003.parquet"]


def test_a_run_killed_between_files_is_completed_with_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _, transactions = make_sources(tmp_path)
    clean_root = tmp_path / "clean"
    clean_root.mkdir()
    clean, _, _ = make_sources(clean_root)
    land_movements(clean, clean_root)

    written = landing.write_parquet_atomically

    def dies_after_the_sales_file(batches, schema, path):
        rows = written(batches, schema, path)
        if path.parent.name == "sales":
            raise RuntimeError("killed after the sales file")
        return rows

    monkeypatch.setattr(landing, "write_parquet_atomically", dies_after_the_sales_file)
    with pytest.raises(RuntimeError):
        land_movements(source, tmp_path)
    monkeypatch.setattr(landing, "write_parquet_atomically", written)
    first = "changes_000000000001_000000000003.parquet"
    assert (tmp_path / "landing" / "sales" / first).exists()
    assert not (tmp_path / "landing" / "restocks" / first).exists()
    assert not (tmp_path / "landing" / "_manifests" / first).exists()
    add_change(transactions, (4, 2, "sale", 3, 1300, 9))  # arrives before the re-run
    deliveries = land_movements(source, tmp_path)
    assert [d.delivery for d in deliveries] == [
        "changes_000000000001_000000000003",  # completed from the pending file
        "changes_000000000004_000000000004",
    ]
    for folder in ("landing/sales", "landing/restocks", "landing/_manifests", "quarantine/inventory_change"):
        assert pq.read_table(tmp_path / folder / first).equals(pq.read_table(clean_root / folder / first)), (
            folder
        )
    assert list((tmp_path / "landing" / "_pending").iterdir()) == []


def test_snapshot_is_stamped_with_the_read_instant_and_taken_daily(tmp_path: Path) -> None:
    _, service, _ = make_sources(tmp_path)
    folder = tmp_path / "landing" / "inventory_snapshots"
    first = landing.land_snapshot(service, folder, READ_AT, timedelta(hours=24))
    table = pq.read_table(first.path)
    assert first.path.name == "snapshot_20261121T120000Z.parquet"
    assert table.column("snapshot_at").to_pylist() == [int(READ_AT.timestamp())] * 2
    assert table.column("quantity").to_pylist() == [8, 4]
    # Within the interval the existing snapshot is reused; after it a new one is read.
    reused = landing.land_snapshot(service, folder, READ_AT + timedelta(hours=23), timedelta(hours=24))
    assert reused.path is None and reused.snapshot_at == READ_AT
    later = landing.land_snapshot(service, folder, READ_AT + timedelta(hours=24), timedelta(hours=24))
    assert later.path is not None
    assert landing.landed_snapshot_instants(folder) == [READ_AT, READ_AT + timedelta(hours=24)]


def test_unchanged_catalogue_is_not_rewritten(tmp_path: Path) -> None:
    source, _, transactions = make_sources(tmp_path)
    folder = tmp_path / "landing" / "products"
    first = landing.land_catalog(source, "products", folder)
    assert first.rows == 2 and first.path is not None
    assert landing.land_catalog(source, "products", folder).path is None
    with sqlite3.connect(transactions) as connection:
        connection.execute("insert into products values (3, 'Jug', 'SKU-3', 9.0, 1)")
    changed = landing.land_catalog(source, "products", folder)
    assert changed.path is not None and pq.read_table(changed.path).num_rows == 3


def test_within_the_interval_only_an_added_or_removed_product_reads_the_catalogue_again(
    tmp_path: Path,
) -> None:
    source, _, transactions = make_sources(tmp_path)
    folder = tmp_path / "landing" / "products"
    day = timedelta(hours=24)

    def names(landed_at: datetime) -> list[str]:
        landing.land_catalog(source, "products", folder, read_at=landed_at, interval=day)
        return pq.read_table(folder / "products.parquet")["name"].to_pylist()

    assert names(READ_AT) == ["Mug", "Cup"]
    with sqlite3.connect(transactions) as connection:
        connection.execute("update products set name = 'Big mug' where id = 1")
    assert names(READ_AT + timedelta(hours=1)) == ["Mug", "Cup"]  # an edit waits
    with sqlite3.connect(transactions) as connection:
        connection.execute("insert into products values (3, 'Jug', 'SKU-3', 9.0, 1)")
    assert names(READ_AT + timedelta(hours=2)) == ["Big mug", "Cup", "Jug"]  # an addition does not
    with sqlite3.connect(transactions) as connection:
        connection.execute("delete from products where id = 2")
    assert names(READ_AT + timedelta(hours=3)) == ["Big mug", "Jug"]  # nor a removal
    with sqlite3.connect(transactions) as connection:
        connection.execute("update products set name = 'Small jug' where id = 3")
    assert names(READ_AT + timedelta(hours=26)) == ["Big mug", "Jug"]  # 23 h after the last full read
    assert names(READ_AT + timedelta(hours=27)) == ["Big mug", "Small jug"]  # 24 h after it
    with sqlite3.connect(transactions) as connection:
        connection.execute("update products set name = 'Mug' where id = 1")
    assert names(READ_AT) == ["Mug", "Small jug"]  # an instant before the last full read: read again


def test_a_landed_catalogue_carries_the_hash_of_its_rows(tmp_path: Path) -> None:
    """dbt rebuilds the enriched catalogue only when this hash changes (int_products_enriched)."""
    source, _, transactions = make_sources(tmp_path)
    folder = tmp_path / "landing" / "products"

    def landed_hash() -> str:
        return (
            pq.read_schema(folder / "products.parquet").metadata[landing.CONTENT_HASH_KEY.encode()].decode()
        )

    landing.land_catalog(source, "products", folder)
    first = landed_hash()
    assert first == landing.content_sha256(source.read_catalog("products"))
    with sqlite3.connect(transactions) as connection:
        connection.execute("update products set name = 'Cup' where id = 1")
    landing.land_catalog(source, "products", folder)
    assert landed_hash() != first
    # a copy landed without the hash (by an older version) is landed again, with it
    table = pq.read_table(folder / "products.parquet")
    pq.write_table(table.replace_schema_metadata(None), folder / "products.parquet")
    assert landing.land_catalog(source, "products", folder).path is not None
    assert landed_hash() == landing.content_sha256(source.read_catalog("products"))


def test_the_catalogue_hash_follows_the_rows_not_their_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(landing, "HASH_BLOCK_ROWS", 4)
    names = [f"product {i}" for i in range(10)]
    suppliers = pa.array([1, None, 2, 2, None, 3, 1, 1, None, 4], pa.int64())
    table = pa.table({"id": pa.array(range(10), pa.int64()), "name": names, "supplier_id": suppliers})
    rebatched = pa.Table.from_batches(table.to_batches(max_chunksize=3))
    assert rebatched.column("id").num_chunks == 4
    assert landing.content_sha256(rebatched) == landing.content_sha256(table)
    renamed = table.set_column(1, "name", pa.array(["Cup", *names[1:]]))
    assert landing.content_sha256(renamed) != landing.content_sha256(table)
    assert landing.content_sha256(table.slice(0, 9)) != landing.content_sha256(table)


def test_a_source_missing_a_column_names_table_and_column(tmp_path: Path) -> None:
    transactions = tmp_path / "broken.sqlite"
    with sqlite3.connect(transactions) as connection:
        connection.execute(
            "create table inventory_change(id integer primary key, pid integer, type text, timestamp integer)"
        )
    source = TransactionDatabase(f"sqlite:///{transactions}")
    paths = landing.LandingPaths(tmp_path / "landing", tmp_path / "quarantine")
    with pytest.raises(SourceError, match=r"inventory_change.*quantity, customer_id"):
        landing.land_source_changes(source, paths, RUN)


def test_a_missing_source_file_says_what_to_do(tmp_path: Path) -> None:
    source = TransactionDatabase(f"sqlite:///{tmp_path / 'nowhere.sqlite'}")
    with pytest.raises(SourceError, match="stockout simulate"):
        source.max_change_id()


def test_unsupported_url_scheme_is_refused_clearly() -> None:
    with pytest.raises(SourceError, match="'mysql'") as raised:
        TransactionDatabase("mysql://user:secret@host/db").max_change_id()
    assert "secret" not in str(raised.value)


def test_landing_reports_the_newest_event_time(tmp_path: Path) -> None:
    source, _, _ = make_sources(tmp_path)
    (landed,) = land_movements(source, tmp_path)
    assert landed.newest_event_at == datetime.fromtimestamp(1200, timezone.utc)
