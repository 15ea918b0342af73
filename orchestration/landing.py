"""Landing: copy what is new in the source systems to immutable Parquet files.

Every file is written under a hidden temporary name in its final folder and renamed into
place, so a reader globbing `*.parquet` sees a whole file or none, and a crash leaves at most
a hidden leftover that the next run removes.

Movements arrive in deliveries: the `inventory_change` rows with ids above the high-water
mark (every type, read once), or one file from the inbox. Each delivery is judged row by row
(orchestration/quarantine.py) and split into landed sales, landed restocks and quarantined
rows, so that rows in = rows landed + rows quarantined. A delivery is landed in three steps,
each atomic:

1. the judged delivery is written to `landing/_pending/<delivery>.parquet`;
2. from it alone, the quarantine file and the landed files are written (a file already there
   was written from the same pending file, so it is kept as it is);
3. the delivery's manifest `landing/_manifests/<delivery>.parquet` (its row counts) is
   written, then the pending file removed.

A run that dies anywhere is completed by the next from the pending file, so every delivery
lands exactly once with the same files. The manifests are the ledger: the highest source id
landed is the end of the newest `changes_<from>_<to>` manifest, and an inbox file is known by
the sha256 of its content in `inbox_<sha256>`.

An id below the high-water mark can still appear in the source: PostgreSQL hands out ids
when a transaction inserts, not when it commits, so id 101 may be visible while 100 is in
flight and the range up to 101 lands without it. Each landing therefore re-reads the last
ids below the mark (`STOCKOUT_LATE_COMMIT_LOOKBACK_IDS`) and lands those that no landed or
quarantined file holds, as a delivery `changes_<lowest>_<highest>_late`.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestration import inbox
from orchestration.quarantine import CHANGE_TYPES, DELIVERED_CHANGE_SCHEMA, JudgedDelivery, judge_delivery
from orchestration.quarantine import ids_in_delivery as delivered_ids
from orchestration.sources import (
    INVENTORY_CHANGE_SCHEMA,
    INVENTORY_SCHEMA,
    InventoryService,
    TransactionDatabase,
)

# A source delivery of the ids <from>..<to>; `_late`: ids in that range that committed after
# the range was landed.
CHANGE_FILE = re.compile(r"^changes_(\d{12})_(\d{12})(_late)?\.parquet$")
SNAPSHOT_FILE = re.compile(r"^snapshot_(\d{8}T\d{6}Z)\.parquet$")
SNAPSHOT_STAMP = "%Y%m%dT%H%M%SZ"
INPROGRESS_SUFFIX = ".inprogress"
# Parquet key-value metadata of a landed catalogue file: the SHA-256 of its rows, which dbt
# compares to skip rebuilding the enriched catalogue when it did not change.
CONTENT_HASH_KEY = "content_sha256"
HASH_BLOCK_ROWS = 1_000_000  # rows hashed per Arrow IPC message (bounds the memory of a hash)

SNAPSHOT_SCHEMA = INVENTORY_SCHEMA.append(pa.field("snapshot_at", pa.int64()))

MOVEMENT_FOLDERS = {"sale": "sales", "restock": "restocks"}
SOURCE_ENTITY = "inventory_change"
# Ids per source delivery: bounds the memory of a first landing of a long history.
MAX_IDS_PER_DELIVERY = 1_000_000

QUARANTINE_SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("delivery", pa.string()),
        *DELIVERED_CHANGE_SCHEMA,
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("quarantined_at", pa.int64()),
        ("landing_run_id", pa.string()),
    ]
)
MANIFEST_SCHEMA = pa.schema(
    [
        ("delivery", pa.string()),
        ("entity", pa.string()),
        ("origin", pa.string()),
        ("content_sha256", pa.string()),
        ("landing_run_id", pa.string()),
        ("landed_at", pa.int64()),
        ("source_rows", pa.int64()),
        ("landed_sales", pa.int64()),
        ("landed_restocks", pa.int64()),
        ("landed_rows", pa.int64()),
        ("quarantined_rows", pa.int64()),
    ]
)


class LandingError(RuntimeError):
    """Landing cannot go on; the message names the file or folder and what to do."""


@dataclass(frozen=True)
class LandedFile:
    path: Path | None  # None when there was nothing new to land
    rows: int
    snapshot_at: datetime | None = None  # for inventory snapshots


@dataclass(frozen=True)
class LandingPaths:
    """Where landing writes: `landing/` and `quarantine/` under the data folder."""

    landing_dir: Path
    quarantine_dir: Path

    def movements(self, change_type: str) -> Path:
        return self.landing_dir / MOVEMENT_FOLDERS[change_type]

    @property
    def manifests(self) -> Path:
        return self.landing_dir / "_manifests"

    @property
    def pending(self) -> Path:
        return self.landing_dir / "_pending"

    @property
    def products(self) -> Path:
        return self.landing_dir / "products" / "products.parquet"


@dataclass(frozen=True)
class LandingRun:
    """Who lands and when: stamps the manifests and quarantined rows, and bounds timestamps."""

    run_id: str
    now: datetime
    future_tolerance: timedelta

    @property
    def latest_timestamp(self) -> int:
        return int((self.now + self.future_tolerance).timestamp())


@dataclass(frozen=True)
class Delivery:
    name: str  # file stem of everything it lands: changes_<from>_<to> or inbox_<sha256>
    entity: str  # inventory_change, inbox_sales or inbox_restocks
    origin: str  # what was read, for people
    expected_types: tuple[str, ...]
    content_sha256: str | None = None


@dataclass(frozen=True)
class LandedDelivery:
    """One delivery's manifest, and the files written for it."""

    delivery: str
    entity: str
    origin: str
    source_rows: int
    landed: dict[str, int]  # rows by change type
    quarantined_rows: int
    reasons: dict[str, int]  # quarantined rows by reason
    files: list[Path] = field(default_factory=list)
    newest_event_at: datetime | None = None

    @property
    def landed_rows(self) -> int:
        return sum(self.landed.values())


def remove_leftovers(folder: Path) -> None:
    """Delete hidden in-progress files a crashed run may have left behind."""
    for leftover in folder.glob(f".*{INPROGRESS_SUFFIX}"):
        leftover.unlink(missing_ok=True)


def write_parquet_atomically(batches: pa.Table | list[pa.RecordBatch], schema: pa.Schema, path: Path) -> int:
    """Write rows to `path` so that it appears complete or not at all; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}{INPROGRESS_SUFFIX}")
    rows = 0
    try:
        with pq.ParquetWriter(temporary, schema, compression="zstd") as writer:
            items = batches.to_batches() if isinstance(batches, pa.Table) else batches
            for batch in items:
                writer.write_batch(batch)
                rows += batch.num_rows
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return rows


def _change_range(name: str) -> tuple[int, int] | None:
    match = CHANGE_FILE.match(name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def landed_high_water_mark(paths: LandingPaths) -> int:
    """Highest source id already landed (0 when none), from the source deliveries' manifests
    and a pending one. Folders landed before manifests existed: the lower of the highest ids
    of the sales and restocks files (a row landed twice is then quarantined as duplicate)."""
    ranges = [
        found
        for folder in (paths.manifests, paths.pending)
        for p in folder.glob("changes_*.parquet")
        if (found := _change_range(p.name))
    ]
    if ranges:
        return max(end for _, end in ranges)
    per_folder = [
        max(
            (
                found[1]
                for p in paths.movements(kind).glob("changes_*.parquet")
                if (found := _change_range(p.name))
            ),
            default=0,
        )
        for kind in CHANGE_TYPES
    ]
    return min(per_folder)


def known_product_ids(paths: LandingPaths) -> pa.Array:
    """Product ids of the landed catalogue; movements of other products are quarantined."""
    if not paths.products.exists():
        raise LandingError(
            f"the product catalogue is not landed yet ({paths.products} is missing): "
            "materialize the `products` asset before sales and restocks"
        )
    return pq.read_table(paths.products, columns=["id"])["id"].combine_chunks()


def _ids_in_files(folders: list[Path], ids: pa.Array, id_column: str) -> pa.Array:
    """Which of `ids` the Parquet files in `folders` hold. Source files cover the id range in
    their names, so only those overlapping `ids` are read; inbox files may hold any ids and
    are always read (their id column only, row groups outside the range skipped by Parquet
    statistics)."""
    if len(ids) == 0:
        return pa.array([], pa.int64())
    low, high = pc.min(ids).as_py(), pc.max(ids).as_py()
    files = []
    for folder in folders:
        for path in sorted(folder.glob("*.parquet")):
            covered = _change_range(path.name)
            if covered is None or (covered[0] <= high and covered[1] >= low):
                files.append(str(path))
    if not files:
        return pa.array([], pa.int64())
    with duckdb.connect() as connection:
        connection.register("wanted", pa.table({"id": ids.cast(pa.int64())}))
        found = connection.sql(
            f"select distinct id from (select try_cast({id_column} as bigint) as id from read_parquet($files)) "
            "where id between $low and $high and id in (select id from wanted)",
            params={"files": files, "low": low, "high": high},
        ).to_arrow_table()
    return found["id"].combine_chunks().cast(pa.int64())


def landed_ids_among(paths: LandingPaths, ids: pa.Array) -> pa.Array:
    """Which of `ids` are in a landed sales or restocks file already."""
    return _ids_in_files([paths.movements(kind) for kind in CHANGE_TYPES], ids, "id")


def accounted_source_ids_among(paths: LandingPaths, ids: pa.Array) -> pa.Array:
    """Which of the source's `ids` a landed or quarantined file holds already."""
    quarantined = paths.quarantine_dir / SOURCE_ENTITY
    return pa.concat_arrays(
        [landed_ids_among(paths, ids), _ids_in_files([quarantined], ids, "id").cast(pa.int64())]
    )


def _write_pending(paths: LandingPaths, delivery: Delivery, judged: JudgedDelivery, run: LandingRun) -> Path:
    stamp = int(run.now.timestamp())
    about = {
        "delivery": delivery.name,
        "entity": delivery.entity,
        "origin": delivery.origin,
        "content_sha256": delivery.content_sha256 or "",
        "expected_types": ",".join(delivery.expected_types),
        "landing_run_id": run.run_id,
        "landed_at": str(stamp),
    }
    table = judged.rows.replace_schema_metadata({key: value.encode() for key, value in about.items()})
    path = paths.pending / f"{delivery.name}.parquet"
    write_parquet_atomically(table, table.schema, path)
    return path


def _write_unless_present(table: pa.Table, schema: pa.Schema, path: Path, written: list[Path]) -> None:
    # Present means written from the same pending file by a run that died later on.
    if not path.exists():
        write_parquet_atomically(table, schema, path)
    written.append(path)


def complete_pending(paths: LandingPaths, pending: Path) -> LandedDelivery:
    """Steps 2 and 3 of landing a delivery, from its pending file alone."""
    table = pq.read_table(pending)
    about = {key.decode(): value.decode() for key, value in (table.schema.metadata or {}).items()}
    judged = JudgedDelivery(table.replace_schema_metadata(None))
    name, entity, landed_at = about["delivery"], about["entity"], int(about["landed_at"])
    files: list[Path] = []

    quarantined = judged.quarantined()
    stamped = pa.Table.from_arrays(
        [
            pa.array([entity] * quarantined.num_rows, pa.string()),
            pa.array([name] * quarantined.num_rows, pa.string()),
            *quarantined.columns,
            pa.array([landed_at] * quarantined.num_rows, pa.int64()),
            pa.array([about["landing_run_id"]] * quarantined.num_rows, pa.string()),
        ],
        schema=QUARANTINE_SCHEMA,
    )
    _write_unless_present(
        stamped, QUARANTINE_SCHEMA, paths.quarantine_dir / entity / f"{name}.parquet", files
    )

    landed: dict[str, int] = {}
    for change_type in about["expected_types"].split(","):
        rows = judged.landed(change_type)
        landed[change_type] = rows.num_rows
        _write_unless_present(
            rows, INVENTORY_CHANGE_SCHEMA, paths.movements(change_type) / f"{name}.parquet", files
        )

    manifest = pa.Table.from_pylist(
        [
            {
                "delivery": name,
                "entity": entity,
                "origin": about["origin"],
                "content_sha256": about["content_sha256"] or None,
                "landing_run_id": about["landing_run_id"],
                "landed_at": landed_at,
                "source_rows": table.num_rows,
                "landed_sales": landed.get("sale", 0),
                "landed_restocks": landed.get("restock", 0),
                "landed_rows": sum(landed.values()),
                "quarantined_rows": quarantined.num_rows,
            }
        ],
        schema=MANIFEST_SCHEMA,
    )
    _write_unless_present(manifest, MANIFEST_SCHEMA, paths.manifests / f"{name}.parquet", files)
    pending.unlink()

    newest = pc.max(pc.filter(table["timestamp_value"], pc.is_valid(table["change_type"]))).as_py()
    reasons = pc.value_counts(quarantined["reason"]).to_pylist() if quarantined.num_rows else []
    return LandedDelivery(
        delivery=name,
        entity=entity,
        origin=about["origin"],
        source_rows=table.num_rows,
        landed=landed,
        quarantined_rows=quarantined.num_rows,
        reasons={item["values"]: item["counts"] for item in reasons},
        files=files,
        newest_event_at=datetime.fromtimestamp(newest, timezone.utc) if newest is not None else None,
    )


def prepare_landing(paths: LandingPaths) -> list[LandedDelivery]:
    """Remove hidden leftovers and complete the deliveries a killed run left pending."""
    folders = [paths.pending, paths.manifests, *(paths.movements(kind) for kind in CHANGE_TYPES)]
    if paths.quarantine_dir.exists():
        folders += [p for p in paths.quarantine_dir.iterdir() if p.is_dir()]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        remove_leftovers(folder)
    return [complete_pending(paths, pending) for pending in sorted(paths.pending.glob("*.parquet"))]


def land_delivery(
    paths: LandingPaths, delivery: Delivery, delivered: pa.Table, run: LandingRun, where_from: str = ""
) -> LandedDelivery:
    """Judge a delivery's rows, then land and quarantine them (the three steps above)."""
    judged = judge_delivery(
        delivered,
        expected_types=delivery.expected_types,
        known_product_ids=known_product_ids(paths),
        landed_ids=landed_ids_among(paths, delivered_ids(delivered)),
        latest_timestamp=run.latest_timestamp,
        where_from=where_from,
    )
    return complete_pending(paths, _write_pending(paths, delivery, judged, run))


def land_source_changes(
    source: TransactionDatabase, paths: LandingPaths, run: LandingRun
) -> list[LandedDelivery]:
    """Land every `inventory_change` row with an id above the high-water mark, in deliveries
    of at most MAX_IDS_PER_DELIVERY ids.

    A delivery covers the id range (mark, newest id] and its files are written even when it
    holds no row, so the first landing leaves every folder non-empty for dbt."""
    landed = prepare_landing(paths)
    after_id = landed_high_water_mark(paths)
    up_to_id = source.max_change_id()
    if up_to_id <= after_id and any(paths.manifests.glob("changes_*.parquet")):
        return landed
    while True:
        end_id = max(after_id, min(up_to_id, after_id + MAX_IDS_PER_DELIVERY))
        delivery = Delivery(
            name=f"changes_{after_id + 1:012d}_{end_id:012d}",
            entity=SOURCE_ENTITY,
            origin=f"{SOURCE_ENTITY} ids {after_id + 1}..{end_id}",
            expected_types=CHANGE_TYPES,
        )
        rows = pa.Table.from_batches(
            list(source.read_changes_as_text(after_id, end_id)), schema=DELIVERED_CHANGE_SCHEMA
        )
        landed.append(land_delivery(paths, delivery, rows, run))
        after_id = end_id
        if after_id >= up_to_id:
            return landed


def land_late_commits(
    source: TransactionDatabase, paths: LandingPaths, run: LandingRun, lookback_ids: int
) -> LandedDelivery | None:
    """Land the rows with ids among the last `lookback_ids` below the high-water mark that
    no landed or quarantined file holds: they committed after their range was landed (see
    the module's docstring). None when there are none, or when `lookback_ids` is 0."""
    mark = landed_high_water_mark(paths)
    if lookback_ids <= 0 or mark == 0:
        return None
    rows = pa.Table.from_batches(
        list(source.read_changes_as_text(max(0, mark - lookback_ids), mark)), schema=DELIVERED_CHANGE_SCHEMA
    )
    accounted = accounted_source_ids_among(paths, delivered_ids(rows))
    late = rows.filter(pc.invert(pc.is_in(pc.cast(rows["id"], pa.int64()), value_set=accounted)))
    if late.num_rows == 0:
        return None
    low, high = pc.min_max(pc.cast(late["id"], pa.int64())).values()
    delivery = Delivery(
        name=f"changes_{low.as_py():012d}_{high.as_py():012d}_late",
        entity=SOURCE_ENTITY,
        origin=f"{SOURCE_ENTITY}: {late.num_rows} ids in {low}..{high} committed after their range landed",
        expected_types=CHANGE_TYPES,
    )
    return land_delivery(paths, delivery, late, run)


@dataclass
class InboxLanding:
    """What a landing run did with the files waiting in the inbox."""

    landed: list[LandedDelivery] = field(default_factory=list)
    already_landed: list[Path] = field(default_factory=list)  # same content landed before
    rejected: list[inbox.RejectedFile] = field(default_factory=list)


def land_inbox(paths: LandingPaths, inbox_dir: Path, run: LandingRun) -> InboxLanding:
    """Land each file waiting in `inbox/<entity>/` once, by content, and move it to
    `processed/`; a file that cannot be read as movements goes to `rejected/` instead."""
    outcome = InboxLanding()
    prepare_landing(paths)
    for entity, change_type in inbox.INBOX_ENTITIES.items():
        for path in inbox.waiting_files(inbox_dir / entity):
            content_sha256 = inbox.sha256_of(path)
            name = f"inbox_{content_sha256}"
            if (paths.manifests / f"{name}.parquet").exists():
                outcome.already_landed.append(inbox.move_to_processed(path))
                continue
            try:
                rows = inbox.read_movements(path)
            except inbox.InboxFileError as error:
                outcome.rejected.append(inbox.move_to_rejected(path, str(error)))
                continue
            delivery = Delivery(
                name=name,
                entity=f"inbox_{entity}",
                origin=f"inbox/{entity}/{path.name}",
                expected_types=(change_type,),
                content_sha256=content_sha256,
            )
            outcome.landed.append(
                land_delivery(paths, delivery, rows, run, where_from=f" (a file of the {entity} inbox)")
            )
            inbox.move_to_processed(path)
    return outcome


def landed_snapshot_instants(folder: Path) -> list[datetime]:
    """When each landed inventory snapshot was read, oldest first."""
    stamps = [m.group(1) for p in folder.glob("snapshot_*.parquet") if (m := SNAPSHOT_FILE.match(p.name))]
    return sorted(datetime.strptime(stamp, SNAPSHOT_STAMP).replace(tzinfo=timezone.utc) for stamp in stamps)


def land_snapshot(
    service: InventoryService, folder: Path, read_at: datetime, interval: timedelta
) -> LandedFile:
    """Take a full read of the inventory service stamped `read_at` (the instant it is read),
    unless a snapshot was already taken within `interval` before it."""
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(folder)
    recent = [at for at in landed_snapshot_instants(folder) if read_at - interval < at <= read_at]
    if recent:
        return LandedFile(path=None, rows=0, snapshot_at=recent[-1])
    stamp = int(read_at.timestamp())
    batches = [
        batch.append_column("snapshot_at", pa.array([stamp] * batch.num_rows, pa.int64()))
        for batch in service.read_all()
    ]
    path = folder / f"snapshot_{read_at.strftime(SNAPSHOT_STAMP)}.parquet"
    rows = write_parquet_atomically(batches, SNAPSHOT_SCHEMA, path)
    return LandedFile(path=path, rows=rows, snapshot_at=read_at)


def land_catalog(
    source: TransactionDatabase,
    table: str,
    folder: Path,
    read_at: datetime | None = None,
    interval: timedelta = timedelta(0),
) -> LandedFile:
    """Land the current `products` or `suppliers` table, replacing the previous copy only
    when its content changed (so an unchanged catalogue leaves the file untouched).

    Within `interval` after the last full read (the landed file's modification time, set to
    `read_at` by each full read), the table is read in full again only when its row count or
    largest id moved: a product added or removed lands at once, while an edit to an existing
    row (a new name, price or supplier) waits for the next full read, as stock waits for the
    next inventory snapshot. A full read of 10 M products is about 6 s of an hourly refresh."""
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(folder)
    path = folder / f"{table}.parquet"
    read_at = read_at or datetime.now(timezone.utc)
    if interval > timedelta(0) and path.exists():
        last_read = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        landed_extent = _landed_extent(path)
        if read_at - interval < last_read <= read_at and source.catalog_extent(table) == landed_extent:
            return LandedFile(path=None, rows=landed_extent[0])
    current = source.read_catalog(table)
    digest = content_sha256(current)
    # The hash in the landed file's footer stands for its rows. Comparing it costs hashing
    # the rows just read (about 1.5 s for 10 M products), which a changed catalogue needs
    # anyway, instead of reading the landed file again (2.2 s) and comparing the tables.
    if not (path.exists() and _content_hash(path) == digest):
        schema = current.schema.with_metadata({CONTENT_HASH_KEY: digest})
        write_parquet_atomically(current, schema, path)
        landed = path
    else:
        landed = None
    os.utime(path, (read_at.timestamp(), read_at.timestamp()))
    return LandedFile(path=landed, rows=current.num_rows)


def _landed_extent(path: Path) -> tuple[int, int]:
    """Row count and largest id of a landed catalogue file, from its footer alone."""
    metadata = pq.read_metadata(path)
    column = metadata.schema.to_arrow_schema().get_field_index("id")
    largest = 0
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(column).statistics
        if statistics is None or not statistics.has_min_max:
            return metadata.num_rows, -1  # no statistics: never equal, so the table is read
        largest = max(largest, int(statistics.max))
    return metadata.num_rows, largest


def content_sha256(table: pa.Table) -> str:
    """SHA-256 of a table's schema and rows, as Arrow IPC in blocks of HASH_BLOCK_ROWS rows:
    the same rows give the same hash however the source split them into batches (each
    block is copied into fresh buffers first: IPC writes a sliced array's buffers as they lie)."""
    digest = hashlib.sha256()
    for offset in range(0, max(table.num_rows, 1), HASH_BLOCK_ROWS):
        rows = table.slice(offset, HASH_BLOCK_ROWS)
        block = rows.take(np.arange(rows.num_rows)).combine_chunks()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(block, max_chunksize=HASH_BLOCK_ROWS)
        digest.update(sink.getvalue())
    return digest.hexdigest()


def _content_hash(path: Path) -> str | None:
    """The CONTENT_HASH_KEY of a landed catalogue file (None for a file landed without it)."""
    metadata = pq.read_schema(path).metadata or {}
    value = metadata.get(CONTENT_HASH_KEY.encode())
    return value.decode() if value else None
