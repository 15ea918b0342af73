"""Publishing: versions, the atomic swap of analytics.duckdb, retention."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from conftest import SIM_END_ISO, run_cli, write_small_shop

from orchestration import publish

AS_OF = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A stand-in warehouse with the published relations in the marts schema."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        for relation in publish.PUBLISHED_RELATIONS:
            if relation not in publish.SPLIT_RELATIONS:
                connection.execute(f"create table marts.{relation} as select 1 as product_id, 'v1' as label")
        create_split_relations(connection, products=1)
        # every refresh's list: a row for 12:00 and one for 13:00
        connection.execute(
            "create or replace table marts.at_risk_history as select * from (values "
            "(timestamp '2026-11-21 12:00:00', 1, 'v1'), (timestamp '2026-11-21 13:00:00', 2, 'v1')) "
            "as t(as_of, product_id, label)"
        )
        connection.execute(
            "alter table marts.at_risk_in_a_week add column risk_rank integer default 1;"
            "alter table marts.at_risk_in_a_week add column product_name varchar default 'Mug';"
            "alter table marts.at_risk_in_a_week add column sku varchar default 'SKU-1';"
            "alter table marts.at_risk_in_a_week add column stock_status varchar default 'at_risk';"
            "alter table marts.at_risk_in_a_week add column on_hand integer default 2;"
            "alter table marts.at_risk_in_a_week add column days_to_stockout double default 1.0;"
            "alter table marts.at_risk_in_a_week add column stockout_probability_7d double default 0.9;"
        )
    return path


def create_split_relations(connection: duckdb.DuckDBPyConnection, products: int, days: int = 1) -> None:
    """The relations published as base + delta, as the warehouse keeps them: stamped
    per-product rows, under views adding the columns that hold T (here 12:00; the published
    ones hold the version's T). daily_product_movements has `days` rows per product."""
    connection.execute("create schema if not exists intermediate")
    for relation, split in publish.SPLIT_RELATIONS.items():
        rows_per_product = days if "calendar_date" in split.key else 1
        connection.execute(
            f"create or replace table {split.table} as "
            "select products.range + 1 as product_id, 'v1' as label, products.range + 0.5 as days_to_stockout, "
            "products.range = 0 as is_at_risk, 1 as units_sold_28d, "
            "date '2026-11-21' - cast(days.range as integer) as calendar_date, current_timestamp as written_at "
            f"from range({products}) as products, range({rows_per_product}) as days"
        )
        columns = {
            "days_to_stockout": "days_to_stockout, date '2026-11-21' as projected_stockout_date, is_at_risk, "
            "case when is_at_risk then 1 end as risk_rank",
            "product_velocity": "units_sold_28d",
            "daily_product_movements": "calendar_date",
        }[relation]
        connection.execute(
            f"create or replace view marts.{relation} as select timestamp '2026-11-21 12:00:00' as as_of, "
            f"product_id, label, {columns} from {split.table} where {split.where}"
        )


def set_label(warehouse: Path, label: str, where: str = "true") -> None:
    """A refresh that rewrote some rows: new labels, and for the split relations new stamps."""
    with duckdb.connect(str(warehouse)) as connection:
        for relation in publish.PUBLISHED_RELATIONS:
            if relation in publish.SPLIT_RELATIONS:
                connection.execute(
                    f"update {publish.SPLIT_RELATIONS[relation].table} set label = ?, "
                    f"written_at = current_timestamp where {where}",
                    [label],
                )
            else:
                connection.execute(f"update marts.{relation} set label = ?", [label])


def same_base(one: Path, other: Path, relation: str) -> bool:
    """Whether two versions hold the same base file of `relation` (linked, not copied)."""
    return (
        published_files(one, relation)[0].stat().st_ino == published_files(other, relation)[0].stat().st_ino
    )


def published_files(version_folder: Path, relation: str) -> list[Path]:
    return sorted(version_folder.glob(f"{relation}.*parquet"))


def read_label(mart_dir: Path) -> str:
    with duckdb.connect(str(mart_dir / "analytics.duckdb"), read_only=True) as connection:
        return connection.execute("select label from at_risk_in_a_week").fetchone()[0]


def test_publish_writes_a_version_and_views_over_it(warehouse: Path, tmp_path: Path) -> None:
    mart = tmp_path / "mart"
    published = publish.publish(warehouse, mart, AS_OF, "abcdef123456", timedelta(hours=24), AS_OF)
    assert published.version == "20261121T120000Z_abcdef12"
    assert sorted(p.name for p in published.folder.iterdir()) == sorted(
        [
            f"{name}.parquet"
            for name in publish.PUBLISHED_RELATIONS
            if name not in (*publish.APPENDED_RELATIONS, *publish.SPLIT_RELATIONS)
        ]
        + [
            f"{name}{suffix}"
            for name in publish.SPLIT_RELATIONS
            for suffix in (publish.BASE_SUFFIX, publish.DELTA_SUFFIX)
        ]
    )
    assert [p.name for p in (mart / "history" / "at_risk_history").iterdir()] == ["20261121T120000Z.parquet"]
    assert published.row_counts == {name: 1 for name in publish.PUBLISHED_RELATIONS}
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        kinds = dict(
            connection.execute("select table_name, table_type from information_schema.tables").fetchall()
        )
        versions = connection.execute("select version, is_current from mart_versions").fetchall()
    assert set(kinds) == {*publish.PUBLISHED_RELATIONS, "mart_versions", "mart_published"}
    assert set(kinds.values()) == {"VIEW"}  # views only: the data lives in the versioned Parquet
    assert versions == [("20261121T120000Z_abcdef12", True)]
    assert not [p for p in mart.rglob(".*")]  # no leftovers


def test_each_publish_adds_its_own_instant_to_the_history(warehouse: Path, tmp_path: Path) -> None:
    # Only the refresh's own rows are written, so publishing does not grow with history; each
    # version sees the history up to its own instant, and an open reader keeps seeing that.
    mart = tmp_path / "mart"
    publish.publish(warehouse, mart, AS_OF, "run00001", timedelta(hours=24), AS_OF)
    first_file = mart / "history" / "at_risk_history" / "20261121T120000Z.parquet"
    written = first_file.stat().st_mtime_ns
    reader = duckdb.connect(str(mart / "analytics.duckdb"), read_only=True)
    later = publish.publish(
        warehouse, mart, AS_OF + timedelta(hours=1), "run00002", timedelta(hours=24), AS_OF
    )
    assert later.row_counts["at_risk_history"] == 1
    assert first_file.stat().st_mtime_ns == written
    history = "select product_id from at_risk_history order by as_of"
    assert reader.execute(history).fetchall() == [(1,)]
    reader.close()
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        assert connection.execute(history).fetchall() == [(1,), (2,)]


def test_a_back_filled_instant_joins_the_published_history(warehouse: Path, tmp_path: Path) -> None:
    mart = tmp_path / "mart"
    publish.publish(warehouse, mart, AS_OF + timedelta(hours=1), "run00002", timedelta(hours=24), AS_OF)
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        assert connection.execute("select product_id from at_risk_history").fetchall() == [(2,)]
    assert publish.export_history(warehouse, mart, AS_OF) == {"at_risk_history": 1}
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        assert connection.execute("select product_id from at_risk_history order by as_of").fetchall() == [
            (1,),
            (2,),
        ]


def test_an_open_reader_keeps_its_version_across_a_publish(warehouse: Path, tmp_path: Path) -> None:
    mart = tmp_path / "mart"
    publish.publish(warehouse, mart, AS_OF, "run00001", timedelta(hours=24), AS_OF)
    reader = duckdb.connect(str(mart / "analytics.duckdb"), read_only=True)
    set_label(warehouse, "v2")
    publish.publish(warehouse, mart, AS_OF + timedelta(hours=1), "run00002", timedelta(hours=24), AS_OF)
    assert reader.execute("select label from at_risk_in_a_week").fetchone()[0] == "v1"
    reader.close()
    assert read_label(mart) == "v2"
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        versions = connection.execute(
            "select version, is_current from mart_versions order by as_of"
        ).fetchall()
    assert versions == [("20261121T120000Z_run00001", False), ("20261121T130000Z_run00002", True)]


def test_versions_older_than_the_retention_are_removed(warehouse: Path, tmp_path: Path) -> None:
    mart = tmp_path / "mart"
    old = publish.publish(warehouse, mart, AS_OF, "run00001", timedelta(hours=24), AS_OF)
    two_days_ago = time.time() - 2 * 86400
    os.utime(old.folder, (two_days_ago, two_days_ago))
    new = publish.publish(
        warehouse,
        mart,
        AS_OF + timedelta(hours=1),
        "run00002",
        timedelta(hours=24),
        datetime.now(timezone.utc),
    )
    assert not old.folder.exists() and new.folder.exists()
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        assert connection.execute("select version from mart_versions").fetchall() == [(new.version,)]


def test_top_at_risk_preview_for_the_ui(warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("drop table marts.at_risk_in_a_week")
        connection.execute(
            "create table marts.at_risk_in_a_week as select * from (values "
            "(2, 7, 'Mug', 'SKU-7', 'at_risk', 3, 2.04::double, 0.8123::double), (1, 9, 'Cup', 'SKU-9', 'out_of_stock', 0, 0.0::double, 1.0::double)) "
            "as t(risk_rank, product_id, product_name, sku, stock_status, on_hand, days_to_stockout, stockout_probability_7d)"
        )
    published = publish.publish(warehouse, tmp_path / "mart", AS_OF, "run00001", timedelta(hours=24), AS_OF)
    lines = published.top_at_risk_markdown.splitlines()
    assert lines[2] == "| 1 | 9 | Cup | SKU-9 | out_of_stock | 0 | 0.0 | 1.0 |"
    assert lines[3] == "| 2 | 7 | Mug | SKU-7 | at_risk | 3 | 2.0 | 0.812 |"


def test_the_at_risk_table_is_published_in_rank_order_in_small_row_groups(
    warehouse: Path, tmp_path: Path
) -> None:
    # The analysts' top-N query reads the first row group alone only when the file is sorted
    # by rank and its row groups are small: the warehouse holds the rows in another order.
    rows = 3 * publish.SORTED_ROW_GROUP_ROWS + 5
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "create or replace table marts.at_risk_in_a_week as "
            f"select template.* replace (range as product_id, {rows} - range as risk_rank) "
            f"from marts.at_risk_in_a_week as template, range({rows})"
        )
    published = publish.publish(warehouse, tmp_path / "mart", AS_OF, "run00001", timedelta(hours=24), AS_OF)
    location = str(published.folder / "at_risk_in_a_week.parquet")
    with duckdb.connect() as connection:
        ranks = [rank for (rank,) in connection.execute(f"select risk_rank from '{location}'").fetchall()]
        groups = connection.execute(
            f"select row_group_num_rows, stats_min, stats_max from parquet_metadata('{location}') "
            "where path_in_schema = 'risk_rank' order by row_group_id"
        ).fetchall()
    assert ranks == list(range(1, rows + 1))
    assert [count for count, _, _ in groups] == [publish.SORTED_ROW_GROUP_ROWS] * 3 + [5]
    assert [(int(low), int(high)) for _, low, high in groups][0] == (1, publish.SORTED_ROW_GROUP_ROWS)


def published_days_to_stockout(mart: Path) -> list[tuple]:
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        return connection.execute("select * from days_to_stockout order by product_id").fetchall()


def test_per_product_relations_are_a_base_and_the_rows_written_since(warehouse: Path, tmp_path: Path) -> None:
    # An hourly refresh rewrites a few products' rows; a version links the previous base and
    # writes only those rows, found by their stamps, whichever way the clock went.
    mart = tmp_path / "mart"
    with duckdb.connect(str(warehouse)) as connection:
        create_split_relations(connection, products=100, days=2)
    first = publish.publish(warehouse, mart, AS_OF, "run00001", timedelta(hours=24), AS_OF)
    base, delta = published_files(first.folder, "days_to_stockout")
    assert base.name.endswith(publish.BASE_SUFFIX) and delta.name.endswith(publish.DELTA_SUFFIX)
    assert first.row_counts["days_to_stockout"] == 100

    set_label(warehouse, "v2", where="product_id in (3, 4)")
    with duckdb.connect(str(warehouse)) as connection:  # a stamp older than the base's rows
        connection.execute(
            "update intermediate.int_product_risk_assessed set label = 'v2', "
            "written_at = timestamp '2001-01-01' where product_id = 5"
        )
        # product 7 sold nothing in the 28 days any more: it leaves product_velocity
        connection.execute(
            "update intermediate.int_product_demand_summarized set units_sold_28d = 0, "
            "written_at = current_timestamp where product_id = 7"
        )
    second = publish.publish(
        warehouse, mart, AS_OF + timedelta(hours=1), "run00002", timedelta(hours=24), AS_OF
    )
    second_base, second_delta = published_files(second.folder, "days_to_stockout")
    assert second_base.stat().st_ino == base.stat().st_ino  # the same file, linked
    with duckdb.connect() as connection:
        delta_ids = connection.execute(
            f"select product_id from read_parquet('{second_delta}') order by 1"
        ).fetchall()
    assert delta_ids == [(3,), (4,), (5,)]
    _, daily_delta = published_files(second.folder, "daily_product_movements")
    assert same_base(second.folder, first.folder, "daily_product_movements")
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        assert connection.execute(f"select count(*) from read_parquet('{daily_delta}')").fetchone() == (4,)
        assert connection.execute(
            "select product_id, calendar_date, label from daily_product_movements where label = 'v2' order by 1, 2"
        ).fetchall() == [
            (product, datetime(2026, 11, day).date(), "v2") for product in (3, 4) for day in (20, 21)
        ]
        assert connection.execute("select count(*) from daily_product_movements").fetchone() == (200,)
    assert same_base(second.folder, first.folder, "product_velocity")
    assert second.row_counts["product_velocity"] == 99
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        assert connection.execute(
            "select count(*) from product_velocity where product_id = 7"
        ).fetchone() == (0,)
        assert connection.execute("select count(*) from product_velocity").fetchone() == (99,)
    rows = published_days_to_stockout(mart)
    assert [row[2] for row in rows] == ["v1"] * 2 + ["v2"] * 3 + ["v1"] * 95
    # the columns that hold T are the new version's, in the warehouse view's order: product 1
    # runs out 0.5 days after 13:00 (01:00 on the 22nd), product 2 1.5 days after
    at_13 = datetime(2026, 11, 21, 13, 0)
    assert rows[0] == (at_13, 1, "v1", 0.5, datetime(2026, 11, 22).date(), True, 1)
    assert rows[1] == (at_13, 2, "v1", 1.5, datetime(2026, 11, 23).date(), False, None)

    # a product gone from the warehouse is gone from the published rows: the old base holds
    # it, so the version gets a new base; so does a product with one of its days rewritten
    # alone, which the per-product models never do
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("delete from intermediate.int_product_risk_assessed where product_id = 100")
        connection.execute(
            "update intermediate.int_daily_product_movements_listed set label = 'v2', written_at = current_timestamp "
            "where product_id = 6 and calendar_date = date '2026-11-21'"
        )
    third = publish.publish(
        warehouse, mart, AS_OF + timedelta(hours=2), "run00003", timedelta(hours=24), AS_OF
    )
    third_base, _ = published_files(third.folder, "days_to_stockout")
    assert third_base.stat().st_ino != base.stat().st_ino
    assert len(published_days_to_stockout(mart)) == 99 == third.row_counts["days_to_stockout"]
    _, third_daily_delta = published_files(third.folder, "daily_product_movements")
    assert not same_base(third.folder, second.folder, "daily_product_movements")
    with duckdb.connect(str(mart / "analytics.duckdb"), read_only=True) as connection:
        assert connection.execute(f"select count(*) from read_parquet('{third_daily_delta}')").fetchone() == (
            0,
        )
        assert connection.execute(
            "select count(*) from daily_product_movements where label = 'v2'"
        ).fetchone() == (5,)

    # a refresh that rewrote most products gets a new base too
    set_label(warehouse, "v3", where="product_id > 20")
    fourth = publish.publish(
        warehouse, mart, AS_OF + timedelta(hours=3), "run00004", timedelta(hours=24), AS_OF
    )
    fourth_base, fourth_delta = published_files(fourth.folder, "days_to_stockout")
    assert fourth_base.stat().st_ino != third_base.stat().st_ino
    with duckdb.connect() as connection:
        assert connection.execute(f"select count(*) from read_parquet('{fourth_delta}')").fetchone() == (0,)
    assert [row[2] for row in published_days_to_stockout(mart)].count("v3") == 79


def test_the_split_relations_are_the_warehouse_views_row_for_row(data_dir: Path) -> None:
    # A real refresh, then an hourly one that recomputes a few products: its version holds
    # each split relation as the first one's base and a delta, and reads exactly as the dbt
    # view does, columns in order.
    # a sparse shop: the products an hour recomputes hold well under a quarter of the rows
    write_small_shop(data_dir, products=3000, customers=200, sales_per_day=150)
    assert run_cli("refresh", "--as-of", SIM_END_ISO).returncode == 0
    hourly = run_cli(
        "refresh", "--as-of", "2026-11-21T13:00:00Z", env={"STOCKOUT_NOW": "2026-11-21T13:00:00Z"}
    )
    assert hourly.returncode == 0, hourly.stdout + hourly.stderr
    first, second = sorted((data_dir / "mart" / "versions").iterdir())
    with duckdb.connect(str(data_dir / "mart" / "analytics.duckdb"), read_only=True) as connection:
        connection.execute(f"attach '{data_dir / 'warehouse' / 'warehouse.duckdb'}' as warehouse (read_only)")
        for relation in publish.SPLIT_RELATIONS:
            base = f"{relation}{publish.BASE_SUFFIX}"
            assert (second / base).stat().st_ino == (first / base).stat().st_ino, relation
            (delta_rows,) = connection.execute(
                f"select count(*) from read_parquet('{second / f'{relation}{publish.DELTA_SUFFIX}'}')"
            ).fetchone()
            (rows,) = connection.execute(f"select count(*) from {relation}").fetchone()
            # no event arrived in the hour: the product days change for no product (they
            # hold no day slice), the other relations for the products a boundary swept
            moved_nothing = relation == "daily_product_movements"
            assert delta_rows == 0 if moved_nothing else 0 < delta_rows, (relation, delta_rows)
            assert delta_rows <= rows * publish.NEW_BASE_SHARE, relation
            published = connection.execute(f"describe {relation}").fetchall()
            built = connection.execute(f"describe warehouse.marts.{relation}").fetchall()
            assert [column[:2] for column in published] == [column[:2] for column in built]
            ours, theirs = relation, f"warehouse.marts.{relation}"
            for one, other in ((ours, theirs), (theirs, ours)):
                (differing,) = connection.execute(
                    f"select count(*) from (select * from {one} except all select * from {other})"
                ).fetchone()
                assert differing == 0, f"{differing} rows of {one} are not in {other}"
        assert connection.execute("select count(*) from days_to_stockout").fetchone() == (3000,)


def test_the_delta_is_the_newer_rows_only_when_the_older_rows_are_the_bases(
    warehouse: Path, tmp_path: Path
) -> None:
    # The cheap path of export_split: the rows stamped after the base's newest make the delta
    # only when every older row is the base's, as (key, stamp) pairs, for the products without
    # a newer row; otherwise the exact search runs (the test above checks its result).
    split = publish.SPLIT_RELATIONS["daily_product_movements"]

    def new_base(run: int) -> str:
        with duckdb.connect(str(warehouse)) as connection:
            create_split_relations(connection, products=10, days=2)
        version = publish.publish(
            warehouse, tmp_path / "mart", AS_OF, f"run{run:05d}", timedelta(hours=24), AS_OF
        )
        return f"read_parquet('{published_files(version.folder, 'daily_product_movements')[0]}')"

    def only_newer_changed(old: str) -> bool:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            (total,) = connection.execute(f"select count(*) from {split.table}").fetchone()
            (newer,) = connection.execute(
                f"select count(*) from {split.table} where written_at > (select max(written_at) from {old})"
            ).fetchone()
            return publish._only_newer_rows_changed(connection, split, old, newer, total)

    old = new_base(1)
    assert only_newer_changed(old)  # nothing written since
    set_label(warehouse, "v2", where="product_id in (3, 4)")
    assert only_newer_changed(old)  # products 3 and 4 rewritten whole: their rows are the delta
    changes = [
        # the clock went back: an older stamp the base lacks
        "written_at = timestamp '2001-01-01' where product_id = 5",
        # one day of product 6 rewritten alone: its other day is older, and not the base's
        "written_at = current_timestamp where product_id = 6 and calendar_date = date '2026-11-21'",
        # a row without a stamp is in neither part
        "written_at = null where product_id = 7 and calendar_date = date '2026-11-21'",
    ]
    for run, change in enumerate(changes, start=2):
        old = new_base(run)
        with duckdb.connect(str(warehouse)) as connection:
            connection.execute(f"update {split.table} set {change}")
        assert not only_newer_changed(old), change
