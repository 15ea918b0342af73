"""Landing: copy what is new in the source systems to immutable Parquet files.

Every file is written under a hidden temporary name in its final folder and renamed into
place, so a reader globbing `*.parquet` sees a whole file or none, and a crash leaves at most
a hidden leftover that the next run removes.

Movements (sales, restocks) are extracted by id high-water mark: the highest id already
landed is encoded in the file names, so landing needs no state besides its files, re-running
it lands nothing twice, and a late event (new id, old timestamp) is picked up next time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestration.sources import (
    INVENTORY_CHANGE_SCHEMA,
    INVENTORY_SCHEMA,
    InventoryService,
    TransactionDatabase,
)

CHANGE_FILE = re.compile(r"^changes_(\d{12})_(\d{12})\.parquet$")
SNAPSHOT_FILE = re.compile(r"^snapshot_(\d{8}T\d{6}Z)\.parquet$")
SNAPSHOT_STAMP = "%Y%m%dT%H%M%SZ"
INPROGRESS_SUFFIX = ".inprogress"

SNAPSHOT_SCHEMA = INVENTORY_SCHEMA.append(pa.field("snapshot_at", pa.int64()))


@dataclass(frozen=True)
class LandedFile:
    path: Path | None  # None when there was nothing new to land
    rows: int
    high_water_mark: int | None = None  # highest source id covered, for movements
    snapshot_at: datetime | None = None  # for inventory snapshots
    newest_event_at: datetime | None = None  # latest event timestamp in the new file


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


def landed_high_water_mark(folder: Path) -> int:
    """Highest source id already landed in a movements folder (0 when none)."""
    marks = [int(m.group(2)) for p in folder.glob("changes_*.parquet") if (m := CHANGE_FILE.match(p.name))]
    return max(marks, default=0)


def land_changes(source: TransactionDatabase, change_type: str, folder: Path) -> LandedFile:
    """Land `inventory_change` rows of one type with ids above the folder's high-water mark.

    The file covers the id range (mark, newest id] and is written even when no row of this
    type is in the range, so the mark advances and the folder is never empty for dbt.
    """
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(folder)
    after_id = landed_high_water_mark(folder)
    up_to_id = source.max_change_id()
    if up_to_id <= after_id and any(folder.glob("*.parquet")):
        return LandedFile(path=None, rows=0, high_water_mark=after_id)
    path = folder / f"changes_{after_id + 1:012d}_{max(up_to_id, after_id):012d}.parquet"
    batches = list(source.read_changes(after_id, up_to_id, change_type))
    rows = write_parquet_atomically(batches, INVENTORY_CHANGE_SCHEMA, path)
    newest = max((pc.max(batch.column("timestamp")).as_py() or 0 for batch in batches), default=None)
    return LandedFile(
        path=path,
        rows=rows,
        high_water_mark=max(up_to_id, after_id),
        newest_event_at=datetime.fromtimestamp(newest, timezone.utc) if newest else None,
    )


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


def land_catalog(source: TransactionDatabase, table: str, folder: Path) -> LandedFile:
    """Land the current `products` or `suppliers` table, replacing the previous copy only
    when its content changed (so an unchanged catalogue leaves the file untouched)."""
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(folder)
    current = source.read_catalog(table)
    path = folder / f"{table}.parquet"
    if path.exists() and pq.read_table(path).equals(current):
        return LandedFile(path=None, rows=current.num_rows)
    rows = write_parquet_atomically(current, current.schema, path)
    return LandedFile(path=path, rows=rows)
