"""Publishing: versions, the atomic swap of analytics.duckdb, retention."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from orchestration import publish

AS_OF = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A stand-in warehouse with the published relations in the marts schema."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        for relation in publish.PUBLISHED_RELATIONS:
            connection.execute(f"create table marts.{relation} as select 1 as product_id, 'v1' as label")
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


def set_label(warehouse: Path, label: str) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        for relation in publish.PUBLISHED_RELATIONS:
            connection.execute(f"update marts.{relation} set label = ?", [label])


def read_label(mart_dir: Path) -> str:
    with duckdb.connect(str(mart_dir / "analytics.duckdb"), read_only=True) as connection:
        return connection.execute("select label from at_risk_in_a_week").fetchone()[0]


def test_publish_writes_a_version_and_views_over_it(warehouse: Path, tmp_path: Path) -> None:
    mart = tmp_path / "mart"
    published = publish.publish(warehouse, mart, AS_OF, "abcdef123456", timedelta(hours=24), AS_OF)
    assert published.version == "20261121T120000Z_abcdef12"
    assert sorted(p.name for p in published.folder.iterdir()) == sorted(
        f"{name}.parquet" for name in publish.PUBLISHED_RELATIONS if name not in publish.APPENDED_RELATIONS
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
