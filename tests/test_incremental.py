"""Incremental refreshes publish what one refresh over everything publishes (issue 4).

A shop is simulated once; its sources are then replayed as they grow in production: at each
refresh instant t the transaction database holds only the rows that had arrived by t (ids
are in arrival order, so a late sale, with an old timestamp, comes in a later refresh) and
the inventory service holds the stock at t. Ten daily refreshes land and build
incrementally, with a daily snapshot each; one of them also finds an already-landed event
delivered again. Their final mart must equal, relation by relation and row by row, that of
a single refresh at the end over the same sources, and that of a `--full-refresh` rebuild.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import SIM_END, SIM_END_ISO, run_cli

from orchestration.landing import SNAPSHOT_STAMP
from orchestration.settings import format_instant
from orchestration.simulator import ShopSpec, simulate_shop, write_shop_to_sqlite

DAYS_REPLAYED = 10
# Relations that depend only on the data up to T (at_risk_changes also compares with the
# refresh before, which differs by construction between the two histories).
COMPARED = [
    "days_to_stockout",
    "at_risk_in_a_week",
    "product_velocity",
    "daily_product_movements",
    "stock_events",
    "inventory_reconciliation",
]


def _environment(data_dir: Path, instant: str) -> dict[str, str]:
    home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {"STOCKOUT_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(home), "STOCKOUT_NOW": instant}


def _sources_as_of(full: Path, target: Path, t: int) -> None:
    """The sources as they stood at t: the id prefix of the rows that had all happened by t,
    and the inventory service's stock at t (the final stock less what moved after t)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("transactions.sqlite", "inventory.sqlite"):
        shutil.copyfile(full / name, target / name)
    with sqlite3.connect(target / "transactions.sqlite") as conn:
        (first_future,) = conn.execute(
            "select min(id) from inventory_change where timestamp > ?", [t]
        ).fetchone()
        moved_after = dict(
            conn.execute(
                "select pid, sum(case when type = 'restock' then quantity else -quantity end) "
                "from inventory_change where timestamp > ? group by pid",
                [t],
            ).fetchall()
        )
        if first_future is not None:
            conn.execute("delete from inventory_change where id >= ?", [first_future])
    with sqlite3.connect(target / "inventory.sqlite") as conn:
        conn.executemany(
            "update inventory set quantity = quantity - ? where pid = ?",
            [(change, pid) for pid, change in moved_after.items()],
        )


def _refresh(data_dir: Path, instant: str, *extra: str) -> str:
    result = run_cli("refresh", "--as-of", instant, *extra, env=_environment(data_dir, instant))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _published(data_dir: Path, relation: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "mart" / "analytics.duckdb"), read_only=True) as connection:
        frame = connection.execute(f"select * from {relation}").df()
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _assert_same_marts(left: Path, right: Path) -> None:
    for relation in COMPARED:
        pd.testing.assert_frame_equal(_published(left, relation), _published(right, relation), obj=relation)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    simulated = simulate_shop(
        ShopSpec(products=80, customers=40, sales_per_day=150, days=40, end=SIM_END, seed=11)
    )
    write_shop_to_sqlite(simulated, folder / "transactions.sqlite", folder / "inventory.sqlite")
    return folder


@pytest.fixture(scope="module")
def replayed(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten daily incremental refreshes of the growing shop, ending at SIM_END."""
    data_dir = tmp_path_factory.mktemp("replayed")
    end = pd.Timestamp(SIM_END_ISO).to_pydatetime()
    for day in range(DAYS_REPLAYED, -1, -1):
        instant = end - timedelta(days=day)
        _sources_as_of(shop, data_dir / "sources", int(instant.timestamp()))
        if day == 3:
            # A re-delivery: an already-landed file's rows landed again under another name.
            landed = sorted((data_dir / "landing" / "sales").glob("changes_*.parquet"))[0]
            pq.write_table(pq.read_table(landed).slice(0, 25), landed.with_name("redelivered_sales.parquet"))
        _refresh(data_dir, format_instant(instant))
    return data_dir


@pytest.fixture(scope="module")
def once(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One refresh at SIM_END over the sources as they stood then."""
    data_dir = tmp_path_factory.mktemp("once")
    _sources_as_of(shop, data_dir / "sources", int(pd.Timestamp(SIM_END_ISO).timestamp()))
    _refresh(data_dir, SIM_END_ISO)
    return data_dir


def test_daily_incremental_refreshes_publish_what_one_refresh_publishes(replayed: Path, once: Path) -> None:
    _assert_same_marts(replayed, once)


# Hours after SIM_END - 26 h of the hourly replay's refreshes, and how each must find the
# per-product models (macros/product_refresh.sql): "all" on the first refresh and when the
# day's inventory read is taken (a new read moves every product's anchor), else "some",
# including after a 19.5-hour gap and at a T that is not on the hour.
HOURLY_REPLAY = [(0, "all"), (1, "some"), (2, "some"), (2.5, "some"), (3.5, "some"), (23, "some"),
                 (24, "all"), (25, "some"), (26, "some")]  # fmt: skip
LATE_SALE = {"quantity": 5, "hours": 24.5}  # arrives with the last refresh, 1.5 h late


def _quiet_product(shop: Path, previous: int, now: int) -> int:
    """A product that nothing else brings into the last hourly refresh: no movement in the
    stretches its slice boundaries sweep, (previous - k days, now - k days], and none among
    the rows that arrive with it. Only the late sale can make it change."""
    swept = " or ".join(
        f"(timestamp > {previous - k * 86400} and timestamp <= {now - k * 86400})" for k in range(29)
    )
    with sqlite3.connect(shop / "transactions.sqlite") as conn:
        (first_new,) = conn.execute(
            "select min(id) from inventory_change where timestamp > ?", [previous]
        ).fetchone()
        (pid,) = conn.execute(
            "select min(id) from products where id not in "
            f"(select pid from inventory_change where ({swept}) or id >= ?)",
            [first_new],
        ).fetchone()
    assert pid is not None, "every product moved in the last hour's swept stretches: no quiet product"
    return pid


def _add_late_sale(sources: Path, pid: int, at: int) -> None:
    """A sale that happened at `at` but reaches the transaction database only now (the next
    id), with the inventory service already showing it."""
    with sqlite3.connect(sources / "transactions.sqlite") as conn:
        conn.execute(
            "insert into inventory_change (id, pid, type, quantity, timestamp, customer_id) "
            "select max(id) + 1, ?, 'sale', ?, ?, 1 from inventory_change",
            [pid, LATE_SALE["quantity"], at],
        )
    with sqlite3.connect(sources / "inventory.sqlite") as conn:
        conn.execute(
            "update inventory set quantity = quantity - ? where pid = ?", [LATE_SALE["quantity"], pid]
        )


def _product_refresh_scope(data_dir: Path, model: str = "int_products_to_refresh") -> tuple[str, int]:
    with duckdb.connect(str(data_dir / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        (scope,) = connection.execute(
            "select scope from intermediate.product_refresh_state where model_name = ?", [model]
        ).fetchone()
        (listed,) = connection.execute("select count(*) from intermediate.int_products_to_refresh").fetchone()
    return scope, listed


def _products_moved_and_days_rewritten(data_dir: Path, since: object) -> tuple[int, int, int, int, object]:
    """(listed products that moved since the baseline, those that moved at the window's
    edges, listed products, products whose days were written after `since` although they did
    not move, the newest write)."""
    with duckdb.connect(str(data_dir / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        moved, at_edges, listed = connection.execute(
            "select count(*) filter (where moved_since_baseline), count(*) filter (where moved_at_window_edges), "
            "count(*) from intermediate.int_products_to_refresh"
        ).fetchone()
        rewritten_unmoved, newest = connection.execute(
            "select count(distinct product_id) filter (where written_at > ? and product_id not in ("
            "  select product_id from intermediate.int_products_to_refresh where moved_since_baseline)), "
            "max(written_at) from intermediate.int_daily_product_movements_listed",
            [since],
        ).fetchone()
    return moved, at_edges, listed, rewritten_unmoved, newest


def test_hourly_refreshes_recompute_only_what_moved_and_publish_what_one_refresh_publishes(
    shop: Path, tmp_path: Path
) -> None:
    end = pd.Timestamp(SIM_END_ISO).to_pydatetime()
    start = end - timedelta(hours=26)
    late_at = int((start + timedelta(hours=LATE_SALE["hours"])).timestamp())
    late_pid = _quiet_product(shop, int((end - timedelta(hours=1)).timestamp()), int(end.timestamp()))
    hourly = tmp_path / "hourly"
    scopes, day_scopes, moved_in_some_hours, newest_day_write, previous_hours = [], [], [], None, 0
    for hours, _ in HOURLY_REPLAY:
        instant = start + timedelta(hours=hours)
        _sources_as_of(shop, hourly / "sources", int(instant.timestamp()))
        if instant == end:
            _add_late_sale(hourly / "sources", late_pid, late_at)
        if hours == 25:
            landed = sorted((hourly / "landing" / "sales").glob("changes_*.parquet"))[-1]
            pq.write_table(pq.read_table(landed).slice(0, 5), landed.with_name("redelivered_sales.parquet"))
        _refresh(hourly, format_instant(instant))
        scopes.append(_product_refresh_scope(hourly))
        day_scopes.append(_product_refresh_scope(hourly, "int_daily_product_movements_listed")[0])
        *counts, newest_day_write = _products_moved_and_days_rewritten(hourly, newest_day_write)
        if day_scopes[-1] == "some":
            moved_in_some_hours.append(counts)
        if scopes[-1][0] == "some":
            moved, at_edges, listed, _ = counts
            assert moved <= at_edges <= listed, (hours, counts)
            # off the hour (this T or the last), the window's rows move for every listed product
            assert (hours % 1 == 0 and previous_hours % 1 == 0) or at_edges == listed, (hours, counts)
        previous_hours = hours
    assert [scope for scope, _ in scopes] == [scope for _, scope in HOURLY_REPLAY]
    # the product days move for every product when the UTC day changes (at 23 h: 09:00 the next day)
    assert day_scopes == ["all" if hours in (0, 23, 24) else scope for hours, scope in HOURLY_REPLAY], (
        day_scopes
    )
    # an hour's refresh recomputes a part of the catalogue, not all of it
    hour_later = [
        listed for (hours, _), (_, listed) in zip(HOURLY_REPLAY[1:], scopes[1:]) if hours in (1, 2, 26)
    ]
    assert all(0 < listed < 80 for listed in hour_later), scopes
    # the product days (meta recomputes_only) are rewritten only for the listed
    # products that moved, not for those that only crossed a slice boundary
    assert moved_in_some_hours and all(rewritten == 0 for *_, rewritten in moved_in_some_hours)
    assert any(moved < listed for moved, _, listed, _ in moved_in_some_hours), moved_in_some_hours

    once = tmp_path / "once"
    _sources_as_of(shop, once / "sources", int(end.timestamp()))
    _add_late_sale(once / "sources", late_pid, late_at)
    _refresh(once, SIM_END_ISO)
    _assert_same_marts(hourly, once)
    late = _published(hourly, "product_velocity").set_index("product_id").loc[late_pid]
    assert late["units_sold_7d"] >= LATE_SALE["quantity"]


def test_late_events_were_landed_after_their_day(replayed: Path) -> None:
    """The replay did carry late events (else the test above proves less than it says)."""
    with duckdb.connect(str(replayed / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        (late,) = connection.execute(
            "select count(*) from intermediate.int_inventory_movements as movements "
            "where load_id > (select min(load_id) from intermediate.loaded_landing_files "
            "  where landed_file like '%changes_%') "
            "and occurred_at_epoch < (select max(occurred_at_epoch) from intermediate.int_inventory_movements as earlier "
            "  where earlier.load_id < movements.load_id)"
        ).fetchone()
        (redelivered,) = connection.execute(
            "select count(*) from intermediate.int_inventory_movements where landed_file like '%redelivered%'"
        ).fetchone()
    assert late > 0
    assert redelivered == 0, "a re-delivered id must count once"


def test_full_refresh_rebuild_gives_the_same_rows(replayed: Path, tmp_path: Path) -> None:
    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(replayed, rebuilt, ignore=shutil.ignore_patterns("mart", "dagster_home", "logs"))
    _refresh(rebuilt, SIM_END_ISO, "--full-refresh")
    _assert_same_marts(replayed, rebuilt)


def test_the_same_partition_twice_gives_identical_rows(replayed: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    shutil.copytree(replayed, again, ignore=shutil.ignore_patterns("dagster_home", "logs"))
    output = _refresh(again, SIM_END_ISO)
    assert "landed 0 sales, 0 restocks" in output
    _assert_same_marts(replayed, again)
    with duckdb.connect(str(again / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute(
            "select count(*), count(distinct movement_id) from intermediate.int_inventory_movements"
        ).fetchone()
    assert rows[0] == rows[1]


def _rows_the_movement_id_test_read(data_dir: Path) -> int:
    """The rows of int_inventory_movements that the last run's `unique` test on movement_id
    looked at: its compiled filter, run again on the warehouse."""
    (path,) = (data_dir / "dbt_target" / "compiled").rglob("unique_int_inventory_movements_movement_id.sql")
    (filtered,) = re.findall(r"\(select \* from .*?\) dbt_subquery", path.read_text(), flags=re.S)
    with duckdb.connect(str(data_dir / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(f"select count(*) from {filtered}").fetchone()[0]


def test_the_movement_tests_read_the_rows_their_run_appended_and_no_others(
    replayed: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(replayed / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        (appended_last,) = connection.execute(
            "select count(*) from intermediate.int_inventory_movements "
            "where load_id = (select max(load_id) from intermediate.loaded_landing_files)"
        ).fetchone()
    assert appended_last > 0
    assert _rows_the_movement_id_test_read(replayed) == appended_last
    # a refresh that lands nothing new tests nothing again (after a full rebuild, the whole
    # table was once the newest load, and re-testing it took 40 s at the benchmark tier)
    again = tmp_path / "again"
    shutil.copytree(replayed, again, ignore=shutil.ignore_patterns("dagster_home", "logs"))
    assert "landed 0 sales, 0 restocks" in _refresh(again, SIM_END_ISO)
    assert _rows_the_movement_id_test_read(again) == 0


def _catalogue_recorded_at(data_dir: Path) -> object:
    with duckdb.connect(str(data_dir / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(
            "select recorded_at from intermediate.input_fingerprints where model_name = 'int_products_enriched'"
        ).fetchone()[0]


def test_the_catalogue_is_rebuilt_when_it_changed_and_only_then(shop: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(shop, data_dir / "sources")
    end = pd.Timestamp(SIM_END_ISO).to_pydatetime()
    _refresh(data_dir, format_instant(end - timedelta(hours=2)))
    built = _catalogue_recorded_at(data_dir)
    _refresh(data_dir, format_instant(end - timedelta(hours=1)))
    assert _catalogue_recorded_at(data_dir) == built  # unchanged catalogue: not rebuilt

    with sqlite3.connect(data_dir / "sources" / "transactions.sqlite") as connection:
        connection.execute("update products set name = 'Renamed mug' where id = 1")
        (supplier,) = connection.execute("select supplier_id from products where id = 1").fetchone()
        connection.execute("update suppliers set lead_time_days = 99 where id = ?", [supplier])
    _refresh(data_dir, SIM_END_ISO)
    assert _catalogue_recorded_at(data_dir) != built
    products = _published(data_dir, "days_to_stockout").set_index("product_id")
    # suppliers are read at every refresh; an edited product waits for the next full read
    # of `products` (STOCKOUT_CATALOG_INTERVAL_HOURS, 24 by default, after the first)
    assert products.loc[1, "product_name"] != "Renamed mug"
    assert (
        products.loc[products["supplier_name"] == products.loc[1, "supplier_name"], "lead_time_days"] == 99
    ).all()

    every_refresh = {**_environment(data_dir, SIM_END_ISO), "STOCKOUT_CATALOG_INTERVAL_HOURS": "0"}
    result = run_cli("refresh", "--as-of", SIM_END_ISO, env=every_refresh)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        _published(data_dir, "days_to_stockout").set_index("product_id").loc[1, "product_name"]
        == "Renamed mug"
    )


def _compiled_snapshot_check(data_dir: Path) -> str:
    (path,) = (data_dir / "dbt_target" / "compiled").rglob("newest_snapshot_has_each_product_once.sql")
    return path.read_text()


def test_a_snapshot_is_checked_for_repeated_products_while_it_is_new(shop: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(shop, data_dir / "sources")
    end = pd.Timestamp(SIM_END_ISO).to_pydatetime()
    _refresh(data_dir, format_instant(end - timedelta(hours=2)))  # lands the day's snapshot
    (landed,) = (data_dir / "landing" / "inventory_snapshots").glob("snapshot_*.parquet")
    assert f"snapshot_at_epoch = {int((end - timedelta(hours=2)).timestamp())}" in _compiled_snapshot_check(
        data_dir
    )
    _refresh(data_dir, format_instant(end - timedelta(hours=1)))  # the same snapshot, reconciled
    assert "snapshot_at_epoch = -1" in _compiled_snapshot_check(data_dir)  # not read again

    # A newer snapshot file that holds product 1 twice stops the refresh.
    read_at = end - timedelta(minutes=30)
    rows = pq.read_table(landed)
    rows = pa.concat_tables([rows, rows.filter(pc.equal(rows["pid"], 1))])
    column = rows.schema.get_field_index("snapshot_at")
    rows = rows.set_column(
        column, "snapshot_at", pa.array([int(read_at.timestamp())] * rows.num_rows, pa.int64())
    )
    pq.write_table(rows, landed.with_name(f"snapshot_{read_at.strftime(SNAPSHOT_STAMP)}.parquet"))
    result = run_cli("refresh", "--as-of", SIM_END_ISO, env=_environment(data_dir, SIM_END_ISO))
    assert result.returncode != 0
    assert "newest_snapshot_has_each_product_once" in result.stdout + result.stderr


def _read_coverage(data_dir: Path) -> list[tuple[int, int]]:
    with duckdb.connect(str(data_dir / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(
            "select cast(split_part(coverage_key, ' ', 1) as bigint), missing_products "
            "from intermediate.read_coverage order by recorded_at"
        ).fetchall()


@pytest.mark.parametrize("unreported", [None, 1])
def test_whether_a_read_holds_every_product_is_searched_once_per_read(
    shop: Path, tmp_path: Path, unreported: int | None
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(shop, data_dir / "sources")
    if unreported is not None:  # the inventory service stops reporting a product
        with sqlite3.connect(data_dir / "sources" / "inventory.sqlite") as connection:
            connection.execute("delete from inventory where pid = ?", [unreported])
    end = pd.Timestamp(SIM_END_ISO).to_pydatetime()
    read_at = int((end - timedelta(hours=2)).timestamp())
    _refresh(data_dir, format_instant(end - timedelta(hours=2)))  # lands the day's read
    expected = [(read_at, 0 if unreported is None else 1)]
    assert _read_coverage(data_dir) == expected
    _refresh(data_dir, format_instant(end - timedelta(hours=1)))  # the same read: known
    assert _read_coverage(data_dir) == expected
    if unreported is not None:
        # never reported, its stock is its movements' from zero (DESIGN.md §4)
        with sqlite3.connect(data_dir / "sources" / "transactions.sqlite") as connection:
            (net,) = connection.execute(
                "select sum(case when type = 'restock' then quantity else -quantity end) "
                "from inventory_change where pid = ? and timestamp <= ?",
                [unreported, read_at + 3600],
            ).fetchone()
        on_hand = _published(data_dir, "days_to_stockout").set_index("product_id").loc[unreported, "on_hand"]
        assert on_hand == net
