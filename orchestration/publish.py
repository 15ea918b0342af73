"""Publishing: the analyst mart, replaced atomically after the checks passed.

A version is a folder of Parquet files, one per published relation, exported from the
warehouse. The analyst database `mart/analytics.duckdb` holds only views over one version's
files; a new one is built under a hidden name and renamed over the old, so a reader opens the
old version or the new one, never a mix, and an open connection keeps reading the version it
opened (its files are kept for the retention period).

`at_risk_history` keeps every refresh's list, so copying it whole into each version would
make every publish cost the whole history. Instead each refresh adds one immutable file for
its own instant to `mart/history/at_risk_history/`, and each version's view reads the files
up to its instant.

`days_to_stockout` holds every product (10 M rows at the benchmark tier), of which an hourly
refresh recomputes a few per cent, and copying it whole was most of a publish; so are
`product_velocity` and `daily_product_movements`, over the same per-product tables. A version
holds each such relation as two files instead: a base, the rows as an earlier publish copied
them (hard-linked from the previous version while it is still good), and a delta, the rows the
warehouse wrote since (found by their `written_at` stamps). Its view takes a product's delta
rows over its base rows and adds the columns that hold T, as the dbt view in
models/marts/ does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from orchestration.settings import format_instant

PUBLISHED_RELATIONS = (
    "at_risk_in_a_week",
    "days_to_stockout",
    "product_velocity",
    "daily_product_movements",
    "inventory_reconciliation",
    "stock_events",
    "at_risk_changes",
    "at_risk_history",
    "quarantined_rows",
    "landing_reconciliation",
)
# Published as one file per refresh instant under history/<relation>/ (see the docstring).
APPENDED_RELATIONS = ("at_risk_history",)
MARTS_SCHEMA = "marts"
VERSIONS_FOLDER = "versions"
HISTORY_FOLDER = "history"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
INPROGRESS_SUFFIX = ".inprogress"
# Relations written in the order analysts read them, in small row groups: the top-N query
# (`order by risk_rank limit 100`) then reads the first row group alone, DuckDB skipping
# the others by their min/max statistics (16 ms for 345 k at-risk rows at the benchmark tier;
# 61 ms for 545 k unsorted). Every other relation keeps the warehouse's order and DuckDB's
# default row groups.
SORTED_RELATIONS = {"at_risk_in_a_week": "risk_rank"}
SORTED_ROW_GROUP_ROWS = 16_384


@dataclass(frozen=True)
class SplitRelation:
    """Where a relation published as base + delta (see the docstring) keeps its rows: a
    per-product warehouse table whose rows carry a `written_at` stamp and are rewritten a
    product at a time, `key` the columns that tell its rows apart, `where` which of them the
    dbt view shows. The files hold every row of the table, and the published view applies
    `where`: a product whose recomputed row leaves the view then still has a delta row that
    hides its base row."""

    table: str
    key: tuple[str, ...]
    where: str = "true"


SPLIT_RELATIONS = {
    "days_to_stockout": SplitRelation("intermediate.int_product_risk_assessed", ("product_id",)),
    # models/marts/product_velocity.sql: the products that sold in the 28 days
    "product_velocity": SplitRelation(
        "intermediate.int_product_demand_summarized", ("product_id",), "units_sold_28d > 0"
    ),
    "daily_product_movements": SplitRelation(
        "intermediate.int_daily_product_movements_listed", ("product_id", "calendar_date")
    ),
}
# The columns the dbt views compute from T, which the published views compute for the
# version's T instead (version_relation_sql).
COLUMNS_HOLDING_T = ("as_of", "projected_stockout_date", "risk_rank")
BASE_SUFFIX = ".base.parquet"
DELTA_SUFFIX = ".delta.parquet"
# A publish writes a new base when the delta would hold more than this share of the rows: a
# delta then costs at most half a base to write, and a reader at most 1.5 times the rows. At
# the benchmark tier an hour recomputes about 3 % of the products, so a base lasts many hours
# (daily_product_movements' rows are all rewritten on each new UTC day anyway).
NEW_BASE_SHARE = 0.5
# The delta file's key-value metadata: the published columns in order, for the view.
PUBLISHED_COLUMNS_KEY = "published_columns"
# zstd at level 1, not DuckDB's default 3: the files are as small (days_to_stockout at the
# benchmark tier: 167 MB against 169) and written in two thirds of the time (6.6 s against
# 10.1 for its 10 M rows).
PARQUET_OPTIONS = "format parquet, compression zstd, compression_level 1"


@dataclass(frozen=True)
class PublishedVersion:
    version: str
    as_of: datetime
    folder: Path
    row_counts: dict[str, int]
    top_at_risk_markdown: str = ""


def top_at_risk_markdown(version_folder: Path, limit: int = 10) -> str:
    """The first rows of a version's at-risk table as Markdown, for the Dagster UI."""
    location = _sql_string(str(version_folder / "at_risk_in_a_week.parquet"))
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select risk_rank, product_id, product_name, sku, stock_status, on_hand, "
            "round(days_to_stockout, 1), round(stockout_probability_7d, 3) "
            f"from read_parquet({location}) order by risk_rank limit {int(limit)}"
        ).fetchall()
    header = "| rank | product | name | sku | status | on hand | days left | P(stock-out 7d) |\n|---|---|---|---|---|---|---|---|"
    lines = ["| " + " | ".join("" if value is None else str(value) for value in row) + " |" for row in rows]
    return "\n".join([header, *lines]) if rows else "(no product at risk)"


def version_name(as_of: datetime, run_id: str) -> str:
    """Sortable by refresh instant; the run id keeps two runs for the same instant apart."""
    return f"{as_of.strftime(STAMP_FORMAT)}_{run_id[:8]}"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def newest_event_at(warehouse: Path, as_of: datetime) -> datetime | None:
    """The latest movement at or before the refresh instant: how fresh the published data is.
    Looked for in the 28-day window first (DuckDB skips older row groups), then everywhere."""
    cutoff = int(as_of.timestamp())
    query = (
        "select max(occurred_at_epoch) from intermediate.int_inventory_movements where occurred_at_epoch <= ?"
    )
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        (newest,) = connection.execute(
            f"{query} and occurred_at_epoch > ?", [cutoff, cutoff - 28 * 86400]
        ).fetchone()
        if newest is None:
            (newest,) = connection.execute(query, [cutoff]).fetchone()
    return datetime.fromtimestamp(newest, timezone.utc) if newest is not None else None


def _timestamp_literal(instant: datetime) -> str:
    """A UTC instant as the warehouse stores `as_of` (timestamp without time zone)."""
    return f"timestamp '{instant.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')}'"


def history_folder(mart_dir: Path, relation: str) -> Path:
    return mart_dir / HISTORY_FOLDER / relation


def export_history(warehouse: Path, mart_dir: Path, as_of: datetime) -> dict[str, int]:
    """Write the rows of refresh `as_of` of each appended relation to its own file in
    history/<relation>/ (atomically; a re-run of the instant replaces the file, as it
    replaces the rows in the warehouse). Costs one refresh's rows, whatever the history."""
    counts: dict[str, int] = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for relation in APPENDED_RELATIONS:
            folder = history_folder(mart_dir, relation)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{as_of.strftime(STAMP_FORMAT)}.parquet"
            temporary = folder / f".{target.name}{INPROGRESS_SUFFIX}"
            rows = f"select * from {MARTS_SCHEMA}.{relation} where as_of = {_timestamp_literal(as_of)}"
            connection.execute(f"copy ({rows}) to {_sql_string(str(temporary))} ({PARQUET_OPTIONS})")
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, target)
            (counts[relation],) = connection.execute(f"select count(*) from ({rows})").fetchone()
    return counts


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(connection: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    schema, name = relation.split(".")
    rows = connection.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    ).fetchall()
    return [column for (column,) in rows]


def _parquet_columns(connection: duckdb.DuckDBPyConnection, file: Path) -> list[str]:
    names = connection.execute(f"select name from parquet_schema({_sql_string(str(file))})").fetchall()
    return [name for (name,) in names[1:]]  # the first is the schema's root


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link (free, and the file outlives the version it came from), or a copy where
    the file system has none."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def export_split(
    connection: duckdb.DuckDBPyConnection, relation: str, staging: Path, previous: Path | None
) -> int:
    """Write `relation` as base + delta into the `staging` version folder (see the module's
    docstring) and return its row count.

    The delta holds the warehouse rows whose key and `written_at` stamp the previous version's
    base lacks: whatever was written since, however the clock moved, found by the stamps
    alone. It goes over a hard link to that base when the two account for every warehouse row
    and no other (a product dropped from the catalogue is in the base alone), and the delta
    holds at most NEW_BASE_SHARE of the rows. Otherwise (no previous base, other columns, a
    refresh that recomputed every product) the version gets a new base and an empty delta.

    Usually the delta is just the rows stamped after the base's newest: that holds when the
    older rows and the base's rows of the other products are the same (key, stamp) pairs,
    which two linear scans compare by count and a sum of hashes (at the benchmark tier 0.3 s,
    then 0.6 s to write the delta, against 1.6 s to search for and write every row the base
    lacks, which remains the way when the check fails)."""
    split = SPLIT_RELATIONS[relation]
    table = split.table  # every row: the view applies split.where
    published = _columns(connection, f"{MARTS_SCHEMA}.{relation}")
    stored = [column for column in published if column not in COLUMNS_HOLDING_T] + ["written_at"]
    rows = f"select {', '.join(_quoted(column) for column in stored)} from {table}"
    base, delta = staging / f"{relation}{BASE_SUFFIX}", staging / f"{relation}{DELTA_SUFFIX}"
    options = (
        f"{PARQUET_OPTIONS}, kv_metadata {{{PUBLISHED_COLUMNS_KEY}: {_sql_string(','.join(published))}}}"
    )
    (total,) = connection.execute(f"select count(*) from {table}").fetchone()
    previous_base = previous / f"{relation}{BASE_SUFFIX}" if previous else None
    if (
        previous_base is not None
        and previous_base.exists()
        and _parquet_columns(connection, previous_base) == stored
    ):
        old = f"read_parquet({_sql_string(str(previous_base))})"
        # cheap first: the rows stamped after the base's newest (a zone-map scan), and only
        # when they are few, the exact search for every row the base lacks
        (newer,) = connection.execute(
            f"select count(*) from {table} where written_at > (select max(written_at) from {old})"
        ).fetchone()
        if newer <= NEW_BASE_SHARE * total and _only_newer_rows_changed(connection, split, old, newer, total):
            connection.execute(
                f"copy ({rows} where written_at > (select max(written_at) from {old})) "
                f"to {_sql_string(str(delta))} ({options})"
            )
            _link_or_copy(previous_base, base)
            return _shown_rows(connection, split, total)
        if newer <= NEW_BASE_SHARE * total:
            same_row = " and ".join(
                f"base.{_quoted(column)} = current_rows.{_quoted(column)}"
                for column in (*split.key, "written_at")
            )
            (changed,) = connection.execute(
                f"copy ({rows} as current_rows where not exists (select 1 from {old} as base where {same_row})) "
                f"to {_sql_string(str(delta))} ({options})"
            ).fetchone()
            delta_products = f"(select product_id from read_parquet({_sql_string(str(delta))}))"
            (kept,) = connection.execute(
                f"select count(*) from {old} as base where base.product_id not in {delta_products}"
            ).fetchone()
            # with several rows per product, the delta must hold all of a product's rows or
            # none (the per-product models rewrite them together): then a base row that no
            # warehouse row matches would make the counts differ
            whole_products = (
                len(split.key) == 1
                or changed
                == connection.execute(
                    f"select count(*) from {table} where product_id in {delta_products}"
                ).fetchone()[0]
            )
            if changed <= NEW_BASE_SHARE * total and changed + kept == total and whole_products:
                _link_or_copy(previous_base, base)
                return _shown_rows(connection, split, total)
    connection.execute(f"copy ({rows}) to {_sql_string(str(base))} ({options})")
    connection.execute(f"copy ({rows} where false) to {_sql_string(str(delta))} ({options})")
    return _shown_rows(connection, split, total)


def _only_newer_rows_changed(
    connection: duckdb.DuckDBPyConnection, split: SplitRelation, old: str, newer: int, total: int
) -> bool:
    """Whether the warehouse rows stamped at or before the newest stamp of the base `old`
    (every row but the `newer` ones) are, as (key, stamp) pairs, the base's rows of the products
    without a newer row: then the base and the newer rows make up the table exactly. Compared
    by count and a sum of hashes, so neither side is searched row by row."""
    pairs = ", ".join(_quoted(column) for column in (*split.key, "written_at"))
    newest = f"(select max(written_at) from {old})"
    fingerprint = f"count(*), sum(hash({pairs}))"
    (older_count, older_hash) = connection.execute(
        f"select {fingerprint} from {split.table} where written_at <= {newest}"
    ).fetchone()
    (kept_count, kept_hash) = connection.execute(
        f"select {fingerprint} from {old} where product_id not in "
        f"(select product_id from {split.table} where written_at > {newest})"
    ).fetchone()
    return older_count + newer == total and (older_count, older_hash) == (kept_count, kept_hash)


def _shown_rows(connection: duckdb.DuckDBPyConnection, split: SplitRelation, total: int) -> int:
    """The rows of a split relation its view shows, of the `total` its files hold."""
    if split.where == "true":
        return int(total)
    (shown,) = connection.execute(f"select count(*) from {split.table} where {split.where}").fetchone()
    return int(shown)


def export_version(warehouse: Path, mart_dir: Path, version: str) -> dict[str, int]:
    """Copy the published relations out of the warehouse into a new version folder (the
    appended ones go to history/ instead: export_history; the split ones are base + delta
    over the current version's base: export_split)."""
    versions = mart_dir / VERSIONS_FOLDER
    final = versions / version
    staging = versions / f".{version}{INPROGRESS_SUFFIX}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    existing = [name for name in list_versions(mart_dir) if name != version]
    previous = versions / existing[-1] if existing else None
    counts: dict[str, int] = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for relation in PUBLISHED_RELATIONS:
            if relation in APPENDED_RELATIONS:
                continue
            if relation in SPLIT_RELATIONS:
                counts[relation] = export_split(connection, relation, staging, previous)
                continue
            target = staging / f"{relation}.parquet"
            rows, options = f"select * from {MARTS_SCHEMA}.{relation}", PARQUET_OPTIONS
            if relation in SORTED_RELATIONS:
                rows += f" order by {SORTED_RELATIONS[relation]}"
                options += f", row_group_size {SORTED_ROW_GROUP_ROWS}"
            # COPY answers with the rows it wrote: counting again computed a view a second
            # time (1.3 s for days_to_stockout at the benchmark tier)
            (counts[relation],) = connection.execute(
                f"copy ({rows}) to {_sql_string(str(target))} ({options})"
            ).fetchone()
    if final.exists():  # a re-run of the same run id: replace its unpublished leftover
        shutil.rmtree(final)
    os.rename(staging, final)
    return counts


def version_relation_sql(version_folder: Path, relation: str) -> str:
    """The query of one published relation over a version's files (not the appended ones)."""
    folder = version_folder.resolve()
    base, delta = folder / f"{relation}{BASE_SUFFIX}", folder / f"{relation}{DELTA_SUFFIX}"
    if not base.exists():
        return f"select * from read_parquet({_sql_string(str(folder / f'{relation}.parquet'))})"
    base_file, delta_file = _sql_string(str(base)), _sql_string(str(delta))
    with duckdb.connect() as connection:
        (columns,) = connection.execute(
            f"select decode(value) from parquet_kv_metadata({delta_file}) where decode(key) = ?",
            [PUBLISHED_COLUMNS_KEY],
        ).fetchone()
    as_of = _version_instant(folder.name)
    # what the dbt views in models/marts/ compute from T (tests/test_publish.py compares)
    holding_t = {
        "as_of": f"{_timestamp_literal(as_of)} as as_of",
        "projected_stockout_date": f"cast(make_timestamp(cast({int(as_of.timestamp())} + "
        "current_rows.days_to_stockout * 86400 as bigint) * 1000000) as date) as projected_stockout_date",
        "risk_rank": "ranks.risk_rank",
    }
    names = columns.split(",")
    select = ", ".join(holding_t.get(column, f"current_rows.{_quoted(column)}") for column in names)
    ranks = (
        f"left join read_parquet({_sql_string(str(folder / 'at_risk_in_a_week.parquet'))}) as ranks "
        "on ranks.product_id = current_rows.product_id"
        if "risk_rank" in names
        else ""
    )
    return (
        f"with delta as (select * from read_parquet({delta_file})), current_rows as ("
        f"select * from (select * from delta union all select * from read_parquet({base_file}) "
        f"where product_id not in (select product_id from delta)) where {SPLIT_RELATIONS[relation].where}) "
        f"select {select} from current_rows {ranks}"
    )


def list_versions(mart_dir: Path) -> list[str]:
    """Complete version folders, oldest first."""
    folder = mart_dir / VERSIONS_FOLDER
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _version_instant(version: str) -> datetime:
    return datetime.strptime(version.split("_", 1)[0], STAMP_FORMAT).replace(tzinfo=timezone.utc)


def write_analyst_database(
    mart_dir: Path, version: str, published_at: datetime, exclude: Sequence[str] = ()
) -> Path:
    """Build analytics.duckdb (views over `version`, plus `mart_versions`) and swap it in."""
    database = mart_dir / "analytics.duckdb"
    temporary = mart_dir / f".analytics.{version}{INPROGRESS_SUFFIX}"
    temporary.unlink(missing_ok=True)
    version_folder = (mart_dir / VERSIONS_FOLDER / version).resolve()
    with duckdb.connect(str(temporary)) as connection:
        for relation in PUBLISHED_RELATIONS:
            if relation in APPENDED_RELATIONS:
                files = _sql_string(str(history_folder(mart_dir, relation).resolve() / "*.parquet"))
                connection.execute(
                    f"create view {relation} as select * from read_parquet({files}) "
                    f"where as_of <= {_timestamp_literal(_version_instant(version))}"
                )
                continue
            connection.execute(f"create view {relation} as {version_relation_sql(version_folder, relation)}")
        rows = ", ".join(
            f"({_sql_string(name)}, cast({_sql_string(format_instant(_version_instant(name)))} as timestamptz), "
            f"{_sql_string(str((mart_dir / VERSIONS_FOLDER / name).resolve()))}, {str(name == version).lower()})"
            for name in list_versions(mart_dir)
            if name not in exclude
        )
        connection.execute(
            "create view mart_versions as select * from (values "
            f"{rows}) as versions(version, as_of, folder, is_current)"
        )
        connection.execute(
            "create view mart_published as select "
            f"{_sql_string(version)} as version, "
            f"cast({_sql_string(format_instant(published_at))} as timestamptz) as published_at"
        )
        connection.execute("checkpoint")
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, database)
    return database


def warehouse_row_count(warehouse: Path, relation: str) -> int:
    """Rows of a mart relation in the warehouse (built, not necessarily published)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        (count,) = connection.execute(f"select count(*) from {MARTS_SCHEMA}.{relation}").fetchone()
    return int(count)


def published_as_of(mart_database: Path) -> datetime | None:
    """T of the version analysts see now (None before the first publish)."""
    if not mart_database.exists():
        return None
    with duckdb.connect(str(mart_database), read_only=True) as connection:
        (version,) = connection.execute("select version from mart_published").fetchone()
    return _version_instant(version)


def expired_versions(mart_dir: Path, keep: str, retention: timedelta, current_time: datetime) -> list[str]:
    """Versions published longer ago than `retention` (by folder time), never `keep`."""
    expired = []
    for name in list_versions(mart_dir):
        folder = mart_dir / VERSIONS_FOLDER / name
        age = current_time - datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)
        if name != keep and age > retention:
            expired.append(name)
    return expired


def publish(
    warehouse: Path,
    mart_dir: Path,
    as_of: datetime,
    run_id: str,
    retention: timedelta,
    current_time: datetime,
) -> PublishedVersion:
    """Export a new version, point analytics.duckdb at it, then drop expired versions."""
    version = version_name(as_of, run_id)
    counts = export_version(warehouse, mart_dir, version)
    counts.update(export_history(warehouse, mart_dir, as_of))
    expired = expired_versions(mart_dir, keep=version, retention=retention, current_time=current_time)
    write_analyst_database(mart_dir, version, published_at=current_time, exclude=expired)
    # Only now, with no published view pointing at them, may expired files go.
    for name in expired:
        shutil.rmtree(mart_dir / VERSIONS_FOLDER / name, ignore_errors=True)
    folder = mart_dir / VERSIONS_FOLDER / version
    return PublishedVersion(
        version=version,
        as_of=as_of,
        folder=folder,
        row_counts=counts,
        top_at_risk_markdown=top_at_risk_markdown(folder),
    )
