"""The inbox of files: CSV or Parquet files of sales or restocks dropped for bulk imports
and back-fills (DESIGN.md §2), in `inbox/sales/` and `inbox/restocks/`.

This module finds the waiting files, reads one as delivered text rows (or says why it
cannot), and moves it on: to `processed/` once landed, to `rejected/` with a note beside it
when it cannot be read. Landing itself (exactly once, by content hash) is in landing.py.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from orchestration.quarantine import DELIVERED_CHANGE_SCHEMA

INBOX_ENTITIES = {"sales": "sale", "restocks": "restock"}  # folder -> the one type it holds
READABLE_SUFFIXES = {".csv", ".parquet"}
PROCESSED = "processed"
REJECTED = "rejected"
REQUIRED_COLUMNS = ("id", "pid", "type", "quantity", "timestamp")  # customer_id may be absent

log = logging.getLogger(__name__)


class InboxFileError(ValueError):
    """A whole inbox file cannot be read as movements; the message says why."""


@dataclass(frozen=True)
class RejectedFile:
    path: Path  # where it was moved
    reason: str


def waiting_files(folder: Path) -> list[Path]:
    """Files waiting in one inbox folder, by name. Hidden files are skipped: a file is
    copied in under a hidden name and renamed when complete."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def waiting_in_inbox(inbox_dir: Path) -> list[Path]:
    """Every file waiting in the inbox, over all its folders."""
    return [path for entity in INBOX_ENTITIES for path in waiting_files(inbox_dir / entity)]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_table(path: Path) -> pa.Table:
    suffix = path.suffix.lower()
    if suffix not in READABLE_SUFFIXES:
        raise InboxFileError(f"{path.name}: not a .csv or .parquet file")
    try:
        if suffix == ".csv":
            # Every column as text: the rules judge each value, not the CSV reader.
            return pv.read_csv(
                path,
                convert_options=pv.ConvertOptions(
                    column_types={name: pa.string() for name in DELIVERED_CHANGE_SCHEMA.names},
                    strings_can_be_null=True,
                ),
            )
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise InboxFileError(
            f"{path.name}: not a valid {kind} file ({str(error).splitlines()[0]})"
        ) from error


def read_movements(path: Path) -> pa.Table:
    """The file's rows as delivered text (DELIVERED_CHANGE_SCHEMA); other columns are ignored."""
    table = _read_table(path)
    missing = [name for name in REQUIRED_COLUMNS if name not in table.column_names]
    if missing:
        raise InboxFileError(
            f"{path.name}: lacks column(s) {', '.join(missing)} "
            f"(expected {', '.join(DELIVERED_CHANGE_SCHEMA.names)}, as inventory_change; found "
            f"{', '.join(table.column_names) or 'none'})"
        )
    columns = []
    for name in DELIVERED_CHANGE_SCHEMA.names:
        if name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, pa.string()))
            continue
        try:
            columns.append(pc.cast(table[name], pa.string()))
        except pa.ArrowException as error:
            raise InboxFileError(
                f"{path.name}: column {name} of type {table.schema.field(name).type} cannot be read as a value"
            ) from error
    return pa.Table.from_arrays(columns, schema=DELIVERED_CHANGE_SCHEMA)


def _free_name(folder: Path, path: Path, content_tag: str) -> Path:
    target = folder / path.name
    if target.exists():  # another file of the same name came before: keep both
        target = folder / f"{path.stem}_{content_tag}{path.suffix}"
    return target


def move_to_processed(path: Path) -> Path:
    folder = path.parent / PROCESSED
    folder.mkdir(exist_ok=True)
    target = _free_name(folder, path, sha256_of(path)[:12])
    os.replace(path, target)
    log.info("inbox file %s landed, moved to %s", path.name, target)
    return target


def move_to_rejected(path: Path, reason: str) -> RejectedFile:
    """Move an unreadable file aside, with a note `<name>.rejected.txt` saying why."""
    folder = path.parent / REJECTED
    folder.mkdir(exist_ok=True)
    target = _free_name(folder, path, sha256_of(path)[:12])
    os.replace(path, target)
    target.with_name(f"{target.name}.rejected.txt").write_text(
        f"{reason}\nFix the file and drop it into {path.parent} again.\n"
    )
    log.warning("inbox file %s rejected: %s; moved to %s", path.name, reason, target)
    return RejectedFile(path=target, reason=reason)
