"""Read-only access to the shop's source systems (DESIGN.md §2).

The transaction database and the inventory service are addressed by URL. The embedded
defaults are SQLite files; other schemes are refused with a message naming what is
supported. Reads stream in Arrow record batches so memory stays flat for any table size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pyarrow as pa

BATCH_ROWS = 100_000

INVENTORY_CHANGE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("pid", pa.int64()),
        ("type", pa.string()),
        ("quantity", pa.int64()),
        ("timestamp", pa.int64()),
        ("customer_id", pa.int64()),
    ]
)
PRODUCTS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("sku", pa.string()),
        ("price", pa.float64()),
        ("supplier_id", pa.int64()),
    ]
)
SUPPLIERS_SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("lead_time_days", pa.int64())])
INVENTORY_SCHEMA = pa.schema([("pid", pa.int64()), ("quantity", pa.int64()), ("updated_at", pa.int64())])

CATALOG_SCHEMAS = {"products": PRODUCTS_SCHEMA, "suppliers": SUPPLIERS_SCHEMA}


class SourceError(RuntimeError):
    """A source system cannot be read; the message says which one and what to do."""


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise SourceError(
            f"unsupported source URL scheme {scheme!r}: only sqlite:///<path> is supported "
            "(set STOCKOUT_TRANSACTIONS_URL / STOCKOUT_INVENTORY_URL)"
        )
    return Path(url[len(prefix) :])


def _connect_read_only(url: str, what: str) -> sqlite3.Connection:
    path = sqlite_path(url)
    if not path.exists():
        raise SourceError(
            f"{what} not found at {path}: run `stockout simulate` to create a demo shop, "
            "or point the URL variable at the real one"
        )
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _check_columns(connection: sqlite3.Connection, table: str, schema: pa.Schema, url: str) -> None:
    present = {row[1] for row in connection.execute(f"pragma table_info({table})")}
    if not present:
        raise SourceError(f"table {table!r} is missing from {sqlite_path(url)}")
    missing = [name for name in schema.names if name not in present]
    if missing:
        raise SourceError(
            f"table {table!r} in {sqlite_path(url)} lacks column(s) {', '.join(missing)}; "
            "nothing was landed or published"
        )


def _batches(cursor: sqlite3.Cursor, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    while rows := cursor.fetchmany(batch_rows):
        columns = list(zip(*rows))
        yield pa.RecordBatch.from_arrays(
            [pa.array(values, type=field.type) for values, field in zip(columns, schema)],
            schema=schema,
        )


class TransactionDatabase:
    """The transaction service database: `inventory_change`, `products`, `suppliers`."""

    def __init__(self, url: str) -> None:
        self.url = url

    def max_change_id(self) -> int:
        with closing(_connect_read_only(self.url, "transaction database")) as connection:
            _check_columns(connection, "inventory_change", INVENTORY_CHANGE_SCHEMA, self.url)
            (value,) = connection.execute("select max(id) from inventory_change").fetchone()
        return int(value or 0)

    def read_changes(
        self, after_id: int, up_to_id: int, change_type: str, batch_rows: int = BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        """Rows of `inventory_change` with after_id < id <= up_to_id of one type, by id."""
        columns = ", ".join(f'"{name}"' for name in INVENTORY_CHANGE_SCHEMA.names)
        with closing(_connect_read_only(self.url, "transaction database")) as connection:
            _check_columns(connection, "inventory_change", INVENTORY_CHANGE_SCHEMA, self.url)
            cursor = connection.execute(
                f"select {columns} from inventory_change where id > ? and id <= ? and type = ? order by id",
                (after_id, up_to_id, change_type),
            )
            yield from _batches(cursor, INVENTORY_CHANGE_SCHEMA, batch_rows)

    def read_changes_as_text(
        self, after_id: int, up_to_id: int, batch_rows: int = BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        """Every row of `inventory_change` with after_id < id <= up_to_id, by id, whatever its
        type, each field as text (NULL stays NULL): landing judges the rows itself and must
        be able to keep one that a typed read would refuse."""
        schema = pa.schema([(name, pa.string()) for name in INVENTORY_CHANGE_SCHEMA.names])
        columns = ", ".join(f'cast("{name}" as text)' for name in schema.names)
        with closing(_connect_read_only(self.url, "transaction database")) as connection:
            _check_columns(connection, "inventory_change", INVENTORY_CHANGE_SCHEMA, self.url)
            cursor = connection.execute(
                f"select {columns} from inventory_change where id > ? and id <= ? order by id",
                (after_id, up_to_id),
            )
            yield from _batches(cursor, schema, batch_rows)

    def read_catalog(self, table: str) -> pa.Table:
        """The whole `products` or `suppliers` table."""
        schema = CATALOG_SCHEMAS[table]
        columns = ", ".join(f'"{name}"' for name in schema.names)
        with closing(_connect_read_only(self.url, "transaction database")) as connection:
            _check_columns(connection, table, schema, self.url)
            cursor = connection.execute(f"select {columns} from {table} order by id")
            return pa.Table.from_batches(list(_batches(cursor, schema, BATCH_ROWS)), schema=schema)


class InventoryService:
    """The inventory service: current stock per product."""

    def __init__(self, url: str) -> None:
        self.url = url

    def read_all(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """A full read: every product's quantity and when it last changed."""
        with closing(_connect_read_only(self.url, "inventory service")) as connection:
            _check_columns(connection, "inventory", INVENTORY_SCHEMA, self.url)
            cursor = connection.execute("select pid, quantity, updated_at from inventory order by pid")
            yield from _batches(cursor, INVENTORY_SCHEMA, batch_rows)
