"""Read-only access to the shop's source systems (DESIGN.md §2).

The transaction database is a SQLite file or PostgreSQL, read through ADBC by one code path:
the same SQL, streamed as Arrow record batches (memory stays flat for any table size) and
cast to the schemas below, so landed Parquet has the same shape whichever the backend. The
inventory service is a SQLite file, read the same way, or Redis, read with SCAN and
pipelined HMGETs. How URLs are parsed and servers connected lives in source_connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import adbc_driver_manager
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import redis

from orchestration.source_connections import (
    INVENTORY_SCHEMES,
    TRANSACTION_SCHEMES,
    SourceError,
    connect_postgres,
    connect_redis,
    connect_sqlite_read_only,
    describe,
    sqlite_path,
    url_scheme,
)

__all__ = [
    "BATCH_ROWS",
    "CATALOG_SCHEMAS",
    "INVENTORY_CHANGE_SCHEMA",
    "INVENTORY_SCHEMA",
    "PRODUCTS_SCHEMA",
    "SUPPLIERS_SCHEMA",
    "InventoryService",
    "SourceError",
    "TransactionDatabase",
    "sqlite_path",
]

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

TRANSACTIONS_VARIABLE = "STOCKOUT_TRANSACTIONS_URL"
INVENTORY_VARIABLE = "STOCKOUT_INVENTORY_URL"

# Redis: one hash per product, `inventory:{pid}`, with these fields.
INVENTORY_KEY_PREFIX = b"inventory:"
INVENTORY_FIELDS = ("quantity", "updated_at")
SCAN_COUNT = 10_000  # keys the server visits per SCAN call
# SQLite's ADBC driver cuts result batches by rows; PostgreSQL's by bytes (its default).
SQLITE_BATCH_ROWS_OPTION = "adbc.sqlite.query.batch_rows"


# --------------------------------------------------------------------------- SQL sources (ADBC)


def _open_sql(url: str, what: str, variable: str, schemes: tuple[str, ...]):
    """An ADBC connection to a SQLite file (read-only) or a PostgreSQL server."""
    if url_scheme(url, schemes, variable) == "sqlite":
        return connect_sqlite_read_only(url, what)
    return connect_postgres(url, what, variable, autocommit=True)


def _select_list(schema: pa.Schema) -> str:
    # NUMERIC comes back from PostgreSQL as text and from SQLite as integer or real by
    # value: cast it in SQL (DOUBLE PRECISION is a REAL affinity name for SQLite too).
    return ", ".join(
        f'CAST("{field.name}" AS DOUBLE PRECISION) AS "{field.name}"'
        if pa.types.is_floating(field.type)
        else f'"{field.name}"'
        for field in schema
    )


def _check_columns(connection, table: str, schema: pa.Schema, url: str) -> None:
    """Fail naming the table and column when the source lacks what the warehouse reads."""
    try:
        present = set(connection.adbc_get_table_schema(table).names)
    except adbc_driver_manager.Error as error:
        if error.status_code == adbc_driver_manager.AdbcStatusCode.NOT_FOUND:
            raise SourceError(
                f"table {table!r} is missing from {describe(url)}; nothing was landed or published"
            ) from None
        raise SourceError(f"cannot read the columns of table {table!r} in {describe(url)}: {error}") from None
    missing = [name for name in schema.names if name not in present]
    if missing:
        raise SourceError(
            f"table {table!r} in {describe(url)} lacks column(s) {', '.join(missing)}; "
            "nothing was landed or published"
        )


def _conform(batch: pa.RecordBatch, schema: pa.Schema, table: str) -> pa.RecordBatch:
    """The batch with exactly `schema`'s types (int32 from PostgreSQL INTEGER, say, to int64)."""
    try:
        columns = [batch.column(i).cast(field.type) for i, field in enumerate(schema)]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise SourceError(f"table {table!r} holds a value of the wrong type: {error}") from None
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _stream(
    connection, query: str, schema: pa.Schema, table: str, url: str, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Run `query` and yield its result as batches of at most `batch_rows` rows of `schema`."""
    with closing(connection.cursor()) as cursor:
        if url.startswith("sqlite:"):
            cursor.adbc_statement.set_options(**{SQLITE_BATCH_ROWS_OPTION: str(batch_rows)})
        try:
            cursor.execute(query)
            reader = cursor.fetch_record_batch()
            for batch in reader:
                conformed = _conform(batch, schema, table)
                for offset in range(0, conformed.num_rows, batch_rows):
                    yield conformed.slice(offset, batch_rows)
        except (adbc_driver_manager.Error, OSError) as error:
            # SQLite reports a value whose type differs from the column's earlier ones as OSError.
            raise SourceError(f"reading table {table!r} from {describe(url)} failed: {error}") from None


class TransactionDatabase:
    """The transaction service database: `inventory_change`, `products`, `suppliers`."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _connect(self):
        return _open_sql(self.url, "transaction database", TRANSACTIONS_VARIABLE, TRANSACTION_SCHEMES)

    def max_change_id(self) -> int:
        with closing(self._connect()) as connection:
            _check_columns(connection, "inventory_change", INVENTORY_CHANGE_SCHEMA, self.url)
            with closing(connection.cursor()) as cursor:
                cursor.execute("SELECT max(id) FROM inventory_change")
                (value,) = cursor.fetchone()
        return int(value or 0)

    def read_changes_as_text(
        self, after_id: int, up_to_id: int, batch_rows: int = BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        """Every row of `inventory_change` with after_id < id <= up_to_id, by id, whatever its
        type, each field as text (NULL stays NULL): landing judges the rows itself and must
        be able to keep one that a typed read would refuse."""
        schema = pa.schema([(name, pa.string()) for name in INVENTORY_CHANGE_SCHEMA.names])
        columns = ", ".join(f'CAST("{name}" AS TEXT) AS "{name}"' for name in schema.names)
        # Literals rather than parameters: the placeholder syntax differs between the drivers.
        query = (
            f"SELECT {columns} FROM inventory_change "
            f"WHERE id > {int(after_id)} AND id <= {int(up_to_id)} ORDER BY id"
        )
        with closing(self._connect()) as connection:
            _check_columns(connection, "inventory_change", INVENTORY_CHANGE_SCHEMA, self.url)
            yield from _stream(connection, query, schema, "inventory_change", self.url, batch_rows)

    def catalog_extent(self, table: str) -> tuple[int, int]:
        """Row count and largest id of `products` or `suppliers`: cheap (an index scan), and
        they move whenever a row is added or removed, which a full read must then follow."""
        with closing(self._connect()) as connection:
            _check_columns(connection, table, CATALOG_SCHEMAS[table], self.url)
            with closing(connection.cursor()) as cursor:
                # Two queries: SQLite answers max(id) alone from the primary key, not with count(*).
                cursor.execute(f"SELECT count(*) FROM {table}")
                (count,) = cursor.fetchone()
                cursor.execute(f"SELECT max(id) FROM {table}")
                (largest,) = cursor.fetchone()
        return int(count), int(largest or 0)

    def read_catalog(self, table: str) -> pa.Table:
        """The whole `products` or `suppliers` table."""
        schema = CATALOG_SCHEMAS[table]
        query = f"SELECT {_select_list(schema)} FROM {table} ORDER BY id"
        with closing(self._connect()) as connection:
            _check_columns(connection, table, schema, self.url)
            batches = list(_stream(connection, query, schema, table, self.url, BATCH_ROWS))
        return pa.Table.from_batches(batches, schema=schema)


# --------------------------------------------------------------------------- inventory service


class _SeenProducts:
    """Which product ids a full read has yielded: SCAN may return a key more than once."""

    def __init__(self) -> None:
        self.flags = np.zeros(0, dtype=bool)  # one byte per product id up to the largest seen

    def keep_first(self, pids: np.ndarray) -> np.ndarray:
        """A mask of the ids not yielded before (the first of repeats within `pids` too)."""
        if len(pids) and pids.max() >= len(self.flags):
            grown = np.zeros(max(int(pids.max()) + 1, 2 * len(self.flags)), dtype=bool)
            grown[: len(self.flags)] = self.flags
            self.flags = grown
        first = np.zeros(len(pids), dtype=bool)
        first[np.unique(pids, return_index=True)[1]] = True
        fresh = first & ~self.flags[pids]
        self.flags[pids[fresh]] = True
        return fresh


def _integers(values: list[bytes | None], what: str, keys: list[bytes]) -> pa.Array:
    """Redis byte strings as int64, naming the key of a value that is not an integer."""
    array = pa.array(values, pa.binary()).cast(pa.string())
    try:
        return array.cast(pa.int64())
    except pa.ArrowInvalid:
        for key, value in zip(keys, values):
            if value is not None and not value.strip().lstrip(b"-").isdigit():
                raise SourceError(
                    f"inventory hash {key.decode(errors='replace')!r}: {what} is {value!r}, not an integer"
                ) from None
        raise


class InventoryService:
    """The inventory service: current stock per product."""

    def __init__(self, url: str) -> None:
        self.url = url

    def read_all(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """A full read: every product's quantity and when it last changed."""
        if url_scheme(self.url, INVENTORY_SCHEMES, INVENTORY_VARIABLE) == "sqlite":
            yield from self._read_sqlite(batch_rows)
        else:
            yield from self._read_redis(batch_rows)

    def _read_sqlite(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        query = f"SELECT {_select_list(INVENTORY_SCHEMA)} FROM inventory ORDER BY pid"
        with closing(connect_sqlite_read_only(self.url, "inventory service")) as connection:
            _check_columns(connection, "inventory", INVENTORY_SCHEMA, self.url)
            yield from _stream(connection, query, INVENTORY_SCHEMA, "inventory", self.url, batch_rows)

    def _read_redis(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """SCAN the `inventory:*` keys and HMGET them in pipelines, a batch of keys at a time.

        Keys deleted between SCAN and HMGET are left out; a key SCAN returns twice is yielded
        once. Order is SCAN's (by pid within a batch), which is no order across batches.
        """
        client = connect_redis(self.url, "inventory service", INVENTORY_VARIABLE)
        seen = _SeenProducts()
        keys: list[bytes] = []
        with closing(client):
            try:
                for key in client.scan_iter(match=INVENTORY_KEY_PREFIX + b"*", count=SCAN_COUNT):
                    keys.append(key)
                    if len(keys) == batch_rows:
                        yield self._read_hashes(client, keys, seen)
                        keys = []
                if keys:
                    yield self._read_hashes(client, keys, seen)
            except redis.RedisError as error:
                raise SourceError(
                    f"reading the inventory from {describe(self.url)} failed: {error}"
                ) from None

    def _read_hashes(self, client: redis.Redis, keys: list[bytes], seen: _SeenProducts) -> pa.RecordBatch:
        pipeline = client.pipeline(transaction=False)
        for key in keys:
            pipeline.hmget(key, *INVENTORY_FIELDS)
        replies = pipeline.execute()
        present = [(key, reply) for key, reply in zip(keys, replies) if any(v is not None for v in reply)]
        for key, reply in present:
            for field, value in zip(INVENTORY_FIELDS, reply):
                if value is None:
                    raise SourceError(
                        f"inventory hash {key.decode(errors='replace')!r} in {describe(self.url)} "
                        f"lacks field {field!r}; nothing was landed or published"
                    )
        kept = [key for key, _ in present]
        pid = _integers([key[len(INVENTORY_KEY_PREFIX) :] for key in kept], "the product id", kept)
        quantity = _integers([reply[0] for _, reply in present], "quantity", kept)
        updated_at = _integers([reply[1] for _, reply in present], "updated_at", kept)
        if pc.any(pc.less(pid, 0)).as_py():
            raise SourceError(f"an inventory key in {describe(self.url)} has a negative product id")
        batch = pa.RecordBatch.from_arrays([pid, quantity, updated_at], schema=INVENTORY_SCHEMA)
        batch = batch.filter(pa.array(seen.keep_first(pid.to_numpy())))
        return batch.take(pc.sort_indices(batch.column("pid")))
