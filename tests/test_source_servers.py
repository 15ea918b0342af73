"""The production source systems, for real: PostgreSQL through ADBC and Redis (DESIGN.md §2).

The servers are started by the fixtures in tests/servers.py. The same simulated shop read
from PostgreSQL and from SQLite gives identical Arrow tables, Redis gives the same inventory
as SQLite, a refresh from PostgreSQL + Redis publishes the same marts as one from SQLite, and
an unreachable or refusing server fails naming host and port, never the password.
"""

from __future__ import annotations

import sqlite3
import traceback
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import adbc_driver_postgresql.dbapi
import duckdb
import numpy as np
import pyarrow as pa
import pytest
import redis
from conftest import SIM_END, SIM_END_ISO, run_cli
from servers import POSTGRES_PASSWORD, REDIS_PASSWORD, free_port, missing_server

from orchestration import landing, source_connections
from orchestration.publish import PUBLISHED_RELATIONS
from orchestration.simulator import Shop, ShopSpec, simulate_shop
from orchestration.source_writers import write_shop
from orchestration.sources import (
    INVENTORY_CHANGE_SCHEMA,
    INVENTORY_SCHEMA,
    InventoryService,
    SourceError,
    TransactionDatabase,
    _SeenProducts,
)


@pytest.fixture(scope="module")
def shop() -> Shop:
    return simulate_shop(ShopSpec(products=70, customers=30, sales_per_day=150, days=30, end=SIM_END))


def _sqlite_urls(folder: Path) -> tuple[str, str]:
    return f"sqlite:///{folder / 'transactions.sqlite'}", f"sqlite:///{folder / 'inventory.sqlite'}"


TEXT_CHANGE_SCHEMA = pa.schema([(name, pa.string()) for name in INVENTORY_CHANGE_SCHEMA.names])


def _read_changes(source: TransactionDatabase, batch_rows: int) -> pa.Table:
    """Every change, each field as text: the read landing makes before judging the rows."""
    batches = list(source.read_changes_as_text(0, source.max_change_id(), batch_rows=batch_rows))
    assert all(batch.num_rows <= batch_rows for batch in batches)
    return pa.Table.from_batches(batches, schema=TEXT_CHANGE_SCHEMA)


def _read_inventory(service: InventoryService, batch_rows: int = 25) -> pa.Table:
    batches = list(service.read_all(batch_rows=batch_rows))
    assert all(batch.num_rows <= batch_rows for batch in batches)
    return pa.Table.from_batches(batches, schema=INVENTORY_SCHEMA).sort_by("pid")


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_and_sqlite_read_as_identical_arrow_tables(shop, postgres_url, redis_url, tmp_path) -> None:
    sqlite_transactions, sqlite_inventory = _sqlite_urls(tmp_path)
    write_shop(shop, sqlite_transactions, sqlite_inventory)
    write_shop(shop, postgres_url, redis_url)
    postgres, sqlite = TransactionDatabase(postgres_url), TransactionDatabase(sqlite_transactions)

    assert postgres.max_change_id() == sqlite.max_change_id() == shop.inventory_change.num_rows
    from_postgres = _read_changes(postgres, batch_rows=300)
    from_sqlite = _read_changes(sqlite, batch_rows=300)
    assert from_postgres.num_rows == shop.inventory_change.num_rows
    assert from_postgres.schema == from_sqlite.schema == TEXT_CHANGE_SCHEMA
    assert from_postgres.equals(from_sqlite)
    for table in ("products", "suppliers"):
        from_postgres, from_sqlite = postgres.read_catalog(table), sqlite.read_catalog(table)
        assert from_postgres.equals(from_sqlite)
        assert from_postgres.equals(getattr(shop, table))  # prices come back to the cent, as doubles
    # An id range reads only its rows.
    middle = list(postgres.read_changes_as_text(100, 200))
    ids = [int(i) for i in pa.Table.from_batches(middle, schema=TEXT_CHANGE_SCHEMA).column("id").to_pylist()]
    assert ids and min(ids) > 100 and max(ids) <= 200 and ids == sorted(ids)


def test_postgres_tables_are_created_as_the_design_fixes_them(shop, postgres_url, redis_url) -> None:
    write_shop(shop, postgres_url, redis_url)
    write_shop(shop, postgres_url, redis_url)  # a second simulation replaces the first
    with adbc_driver_postgresql.dbapi.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select table_name, column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = 'public' order by table_name, ordinal_position"
        )
        columns = cursor.fetchall()
        cursor.execute("select count(*) from inventory_change")
        (changes,) = cursor.fetchone()
    assert changes == shop.inventory_change.num_rows
    assert columns == [
        ("inventory_change", "id", "integer", "NO"),
        ("inventory_change", "pid", "integer", "NO"),
        ("inventory_change", "type", "text", "NO"),
        ("inventory_change", "quantity", "integer", "NO"),
        ("inventory_change", "timestamp", "integer", "NO"),
        ("inventory_change", "customer_id", "integer", "YES"),
        ("products", "id", "integer", "NO"),
        ("products", "name", "text", "NO"),
        ("products", "sku", "text", "NO"),
        ("products", "price", "numeric", "NO"),
        ("products", "supplier_id", "integer", "YES"),
        ("suppliers", "id", "integer", "NO"),
        ("suppliers", "name", "text", "NO"),
        ("suppliers", "lead_time_days", "integer", "NO"),
    ]


def test_postgres_missing_table_or_column_is_named(postgres_url) -> None:
    with adbc_driver_postgresql.dbapi.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute("create table inventory_change(id integer primary key, pid integer, type text)")
        connection.commit()
    source = TransactionDatabase(postgres_url)
    with pytest.raises(SourceError, match=r"inventory_change.*quantity, timestamp, customer_id") as raised:
        source.max_change_id()
    with pytest.raises(SourceError, match=r"table 'products' is missing"):
        source.read_catalog("products")
    assert POSTGRES_PASSWORD not in str(raised.value)


def test_a_row_committed_after_a_higher_id_landed_is_landed_by_the_next_landing(
    postgres_url, tmp_path
) -> None:
    # A serial id is handed out at insert and becomes visible at commit: the transaction that
    # got id 2 commits after the one that got id 3, and after a landing up to id 3.
    setup = """
        create sequence change_ids;
        create table inventory_change(id integer primary key default nextval('change_ids'), pid integer not null,
            type text not null, quantity integer not null, timestamp integer not null, customer_id integer);
        create table products(id integer primary key, name text not null, sku text not null,
            price numeric not null, supplier_id integer);
        insert into products values (1, 'Mug', 'SKU-1', 4.5, null);
        insert into inventory_change(pid, type, quantity, timestamp, customer_id) values (1, 'restock', 9, 1000, null);
    """
    insert = "insert into inventory_change(pid, type, quantity, timestamp, customer_id) values (1, 'sale', {q}, 1100, 5)"
    with (
        adbc_driver_postgresql.dbapi.connect(postgres_url, autocommit=True) as admin,
        admin.cursor() as cursor,
    ):
        for statement in setup.split(";"):
            if statement.strip():
                cursor.execute(statement)
    source = TransactionDatabase(postgres_url)
    paths = landing.LandingPaths(tmp_path / "landing", tmp_path / "quarantine")
    run = landing.LandingRun(run_id="run", now=SIM_END, future_tolerance=timedelta(hours=24))
    landing.land_catalog(source, "products", tmp_path / "landing" / "products")

    slow = adbc_driver_postgresql.dbapi.connect(postgres_url)  # a transaction, left open
    with slow.cursor() as cursor:
        cursor.execute(insert.format(q=2))  # id 2
    with adbc_driver_postgresql.dbapi.connect(postgres_url, autocommit=True) as fast, fast.cursor() as cursor:
        cursor.execute(insert.format(q=3))  # id 3, visible at once
    (first,) = landing.land_source_changes(source, paths, run)
    assert first.delivery == "changes_000000000001_000000000003" and first.source_rows == 2
    assert landing.land_late_commits(source, paths, run, lookback_ids=100) is None
    slow.commit()
    slow.close()

    late = landing.land_late_commits(source, paths, run, lookback_ids=100)
    assert late is not None and late.delivery == "changes_000000000002_000000000002_late"
    landed = duckdb.sql(
        f"select id, quantity from read_parquet('{tmp_path}/landing/sales/*.parquet') order by id"
    )
    assert landed.fetchall() == [(2, 2), (3, 3)]
    assert landing.land_late_commits(source, paths, run, lookback_ids=100) is None


# --------------------------------------------------------------------------- Redis


def test_redis_full_read_equals_the_sqlite_inventory(shop, postgres_url, redis_url, tmp_path) -> None:
    sqlite_transactions, sqlite_inventory = _sqlite_urls(tmp_path)
    write_shop(shop, sqlite_transactions, sqlite_inventory)
    write_shop(shop, postgres_url, redis_url)
    from_redis = _read_inventory(InventoryService(redis_url))
    from_sqlite = _read_inventory(InventoryService(sqlite_inventory))
    assert from_redis.num_rows == shop.inventory.num_rows
    assert from_redis.equals(from_sqlite)
    assert from_redis.equals(shop.inventory)


def test_redis_write_replaces_the_previous_shop(shop, postgres_url, redis_url) -> None:
    write_shop(shop, postgres_url, redis_url)
    smaller = simulate_shop(ShopSpec(products=20, customers=10, sales_per_day=40, days=10, end=SIM_END))
    write_shop(smaller, postgres_url, redis_url)
    assert _read_inventory(InventoryService(redis_url)).equals(smaller.inventory)
    with redis.Redis.from_url(redis_url) as client:
        assert client.hgetall("inventory:7") == {
            b"quantity": str(smaller.inventory.column("quantity")[6]).encode(),
            b"updated_at": str(smaller.inventory.column("updated_at")[6]).encode(),
        }


def test_redis_hash_missing_a_field_or_with_a_bad_value_is_named(redis_url) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.hset("inventory:1", mapping={"quantity": 5, "updated_at": 100})
        client.hset("inventory:2", mapping={"quantity": 3})
    with pytest.raises(SourceError, match=r"'inventory:2'.*lacks field 'updated_at'"):
        list(InventoryService(redis_url).read_all())
    with redis.Redis.from_url(redis_url) as client:
        client.hset("inventory:2", mapping={"quantity": "three", "updated_at": 100})
    with pytest.raises(SourceError, match=r"'inventory:2'.*quantity is b'three'"):
        list(InventoryService(redis_url).read_all())


def test_a_key_scan_returns_twice_is_read_once() -> None:
    seen = _SeenProducts()
    assert seen.keep_first(np.array([5, 3, 5, 9])).tolist() == [True, True, False, True]
    assert seen.keep_first(np.array([3, 120, 9, 4])).tolist() == [False, True, False, True]


# --------------------------------------------------------------------------- end to end


# Ids of the Dagster run that landed a delivery: different in any two refreshes, by design.
RUN_SPECIFIC_COLUMNS = {"landing_run_id"}


def _published_rows(data_dir: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    rows = {}
    with duckdb.connect(str(data_dir / "mart" / "analytics.duckdb"), read_only=True) as connection:
        for relation in PUBLISHED_RELATIONS:
            columns = [column for column, *_ in connection.execute(f"describe {relation}").fetchall()]
            compared = [column for column in columns if column not in RUN_SPECIFIC_COLUMNS]
            select_list = ", ".join(f'"{column}"' for column in compared)
            rows[relation] = (
                compared,
                connection.execute(f"select {select_list} from {relation} order by all").fetchall(),
            )
    return rows


def _data_dir_env(folder: Path) -> dict[str, str]:
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {"STOCKOUT_DATA_DIR": str(folder), "DAGSTER_HOME": str(home)}


def test_the_same_shop_publishes_identical_marts_from_sqlite_and_from_servers(
    data_dir, tmp_path, postgres_url, redis_url
) -> None:
    shop_arguments = ("--products", "60", "--sales-per-day", "120", "--days", "35", "--end", SIM_END_ISO)
    servers = {
        **_data_dir_env(tmp_path / "servers_data"),
        "STOCKOUT_TRANSACTIONS_URL": postgres_url,
        "STOCKOUT_INVENTORY_URL": redis_url,
    }
    for environment in ({}, servers):
        simulated = run_cli("simulate", *shop_arguments, env=environment)
        assert simulated.returncode == 0, simulated.stderr
        refreshed = run_cli("refresh", "--as-of", SIM_END_ISO, env=environment)
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert "postgresql://127.0.0.1:" in simulated.stdout and POSTGRES_PASSWORD not in simulated.stdout
    assert not (tmp_path / "servers_data" / "sources").exists()  # nothing went to SQLite

    from_sqlite = _published_rows(data_dir)
    from_servers = _published_rows(tmp_path / "servers_data")
    assert from_sqlite["at_risk_in_a_week"][1], "the shop should have products at risk"
    for relation in PUBLISHED_RELATIONS:
        assert from_servers[relation] == from_sqlite[relation], relation


# --------------------------------------------------------------------------- failures


def _everything_printed(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def test_unreachable_postgres_names_host_and_port_never_the_password() -> None:
    port = free_port()
    url = f"postgresql://stockout:{POSTGRES_PASSWORD}@127.0.0.1:{port}/shop"
    with pytest.raises(SourceError) as raised:
        TransactionDatabase(url).max_change_id()
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message and "after 3 attempts" in message
    assert "STOCKOUT_TRANSACTIONS_URL" in message
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert POSTGRES_PASSWORD not in _everything_printed(raised.value)


def test_postgres_refusing_the_password_does_not_echo_it(postgres_server) -> None:
    wrong = "Wr0ng-pw!guess"
    url = f"postgresql://stockout:{wrong}@127.0.0.1:{postgres_server.port}/postgres"
    with pytest.raises(
        SourceError, match=f"127.0.0.1:{postgres_server.port}.*password authentication failed"
    ) as raised:
        TransactionDatabase(url).max_change_id()
    assert wrong not in _everything_printed(raised.value)


def test_unreachable_or_refusing_redis_names_host_and_port_never_the_password(redis_server) -> None:
    port = free_port()
    for url, where in (
        (f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0", f"127.0.0.1:{port}"),
        (f"redis://:Wr0ng-pw@127.0.0.1:{redis_server.port}/0", f"127.0.0.1:{redis_server.port}"),
    ):
        with pytest.raises(SourceError) as raised:
            list(InventoryService(url).read_all())
        assert where in str(raised.value) and "STOCKOUT_INVENTORY_URL" in str(raised.value)
        printed = _everything_printed(raised.value)
        assert REDIS_PASSWORD not in printed and "Wr0ng-pw" not in printed


def test_connecting_is_retried_a_bounded_number_of_times(monkeypatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(source_connections.time, "sleep", pauses.append)
    attempts: list[int] = []

    def refuse() -> None:
        attempts.append(1)
        raise ConnectionRefusedError(
            "refused by db.example:5432 for postgresql://u:hunter2@db.example:5432/x"
        )

    with pytest.raises(SourceError, match="db.example:5432") as raised:
        source_connections.connect_with_retries(
            refuse, "postgresql://u:hunter2@db.example:5432/x", "test", "VARIABLE", (OSError,)
        )
    assert len(attempts) == source_connections.CONNECT_ATTEMPTS == 3
    assert pauses == list(source_connections.RETRY_DELAYS_S)
    assert "hunter2" not in str(raised.value)


def test_a_refresh_from_an_unreachable_server_fails_clearly_and_logs_no_password(data_dir) -> None:
    port = free_port()
    secrets = [POSTGRES_PASSWORD, quote(POSTGRES_PASSWORD, safe=""), REDIS_PASSWORD]
    refreshed = run_cli(
        "refresh",
        "--as-of",
        SIM_END_ISO,
        env={
            "STOCKOUT_TRANSACTIONS_URL": f"postgresql://stockout:{quote(POSTGRES_PASSWORD, safe='')}@127.0.0.1:{port}/shop",
            "STOCKOUT_INVENTORY_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0",
        },
    )
    assert refreshed.returncode == 1
    assert f"127.0.0.1:{port}" in refreshed.stdout
    assert not (data_dir / "mart" / "analytics.duckdb").exists()
    # The terminal, the refresh log and Dagster's run history (event logs, run storage).
    written = [path for path in data_dir.rglob("*") if path.is_file()]
    assert any(path.parent.name == "logs" for path in written), "the refresh should have written its log"
    for secret in secrets:
        assert secret not in refreshed.stdout + refreshed.stderr
        leaks = [path for path in written if secret.encode() in path.read_bytes()]
        assert not leaks, f"{secret!r} written to {leaks}"


def test_simulate_to_an_unreachable_server_writes_nothing(data_dir) -> None:
    port = free_port()
    simulated = run_cli(
        "simulate",
        "--products",
        "10",
        "--days",
        "2",
        env={"STOCKOUT_INVENTORY_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"},
    )
    assert simulated.returncode == 1
    assert f"cannot connect to the inventory service at 127.0.0.1:{port}" in simulated.stderr
    assert "Traceback" not in simulated.stderr and REDIS_PASSWORD not in simulated.stderr
    assert not (data_dir / "sources" / "transactions.sqlite").exists()  # no half-written shop


def test_a_missing_server_skips_locally_and_fails_under_ci(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y postgresql redis-server"):
        missing_server("redis-server")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI"):
        missing_server("redis-server")


def test_sqlite_sources_still_need_no_server(tmp_path, shop) -> None:
    transactions, inventory = _sqlite_urls(tmp_path)
    write_shop(shop, transactions, inventory)
    with sqlite3.connect(tmp_path / "transactions.sqlite") as connection:
        assert connection.execute("select count(*) from inventory_change").fetchone() == (
            shop.inventory_change.num_rows,
        )
    assert _read_inventory(InventoryService(inventory)).equals(shop.inventory)
