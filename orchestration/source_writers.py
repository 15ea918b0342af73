"""Write a simulated shop into the source systems its URLs name (DESIGN.md §2).

`stockout simulate` writes where the warehouse reads: SQLite files (the embedded defaults),
a PostgreSQL transaction database, a Redis inventory service. Each write replaces the
shop that was there. The warehouse itself never writes to the sources; only the simulator
(and tests) use this module.
"""

from __future__ import annotations

from contextlib import closing

import pyarrow as pa

from orchestration.simulator import (
    TRANSACTIONS_DDL,
    Shop,
    write_inventory_to_sqlite,
    write_shop_to_sqlite,
    write_transactions_to_sqlite,
)
from orchestration.source_connections import (
    INVENTORY_SCHEMES,
    TRANSACTION_SCHEMES,
    connect_postgres,
    connect_redis,
    sqlite_path,
    url_scheme,
)
from orchestration.sources import (
    INVENTORY_FIELDS,
    INVENTORY_KEY_PREFIX,
    INVENTORY_VARIABLE,
    SCAN_COUNT,
    TRANSACTIONS_VARIABLE,
)

# ADBC's binary COPY needs Arrow types that match the PostgreSQL columns of DESIGN §2:
# INTEGER is int32 and NUMERIC a decimal (ten places hold any price to the cent and beyond).
POSTGRES_INTEGER = pa.int32()
POSTGRES_NUMERIC = pa.decimal128(38, 10)
POSTGRES_LOAD_ORDER = ("suppliers", "products", "inventory_change")
REDIS_PIPELINE_KEYS = 10_000  # commands sent per round trip


def write_shop(shop: Shop, transactions_url: str, inventory_url: str) -> None:
    """Write the shop's transaction database and inventory service to their URLs."""
    transactions_scheme = url_scheme(transactions_url, TRANSACTION_SCHEMES, TRANSACTIONS_VARIABLE)
    inventory_scheme = url_scheme(inventory_url, INVENTORY_SCHEMES, INVENTORY_VARIABLE)
    if transactions_scheme == "sqlite" and inventory_scheme == "sqlite":
        write_shop_to_sqlite(shop, sqlite_path(transactions_url), sqlite_path(inventory_url))
        return
    # Both servers must answer before either is written, so a failure leaves no half shop.
    if transactions_scheme != "sqlite":
        connect_postgres(
            transactions_url, "transaction database", TRANSACTIONS_VARIABLE, autocommit=True
        ).close()
    if inventory_scheme != "sqlite":
        connect_redis(inventory_url, "inventory service", INVENTORY_VARIABLE).close()
    if transactions_scheme == "sqlite":
        write_transactions_to_sqlite(shop, sqlite_path(transactions_url))
    else:
        write_transactions_to_postgres(shop, transactions_url)
    if inventory_scheme == "sqlite":
        write_inventory_to_sqlite(shop, sqlite_path(inventory_url))
    else:
        write_inventory_to_redis(shop, inventory_url)


def _as_postgres_columns(table: pa.Table) -> pa.Table:
    """The table with int64 as INTEGER's int32 and float64 as NUMERIC's decimal.

    The casts are checked: an id beyond INTEGER's range fails here rather than wrapping."""
    columns = []
    for column in table.columns:
        if pa.types.is_integer(column.type):
            column = column.cast(POSTGRES_INTEGER)
        elif pa.types.is_floating(column.type):
            column = column.cast(POSTGRES_NUMERIC)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def write_transactions_to_postgres(shop: Shop, url: str) -> None:
    """Replace `suppliers`, `products` and `inventory_change` in one transaction, each
    created as DESIGN §2 fixes it and bulk-loaded with binary COPY (ADBC ingest)."""
    tables = {
        "suppliers": shop.suppliers,
        "products": shop.products,
        "inventory_change": shop.inventory_change,
    }
    connection = connect_postgres(url, "transaction database", TRANSACTIONS_VARIABLE, autocommit=False)
    with closing(connection), closing(connection.cursor()) as cursor:
        for name in reversed(POSTGRES_LOAD_ORDER):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
        for name in POSTGRES_LOAD_ORDER:
            cursor.execute(TRANSACTIONS_DDL[name])
            cursor.adbc_ingest(name, _as_postgres_columns(tables[name]), mode="append")
        connection.commit()


def _delete_inventory_keys(client) -> None:
    keys: list[bytes] = []
    for key in client.scan_iter(match=INVENTORY_KEY_PREFIX + b"*", count=SCAN_COUNT):
        keys.append(key)
        if len(keys) == REDIS_PIPELINE_KEYS:
            client.unlink(*keys)
            keys = []
    if keys:
        client.unlink(*keys)


def write_inventory_to_redis(shop: Shop, url: str) -> None:
    """Replace every `inventory:{pid}` hash with the shop's stock, by pipelined HSETs."""
    client = connect_redis(url, "inventory service", INVENTORY_VARIABLE)
    with closing(client):
        _delete_inventory_keys(client)
        quantity_field, updated_at_field = INVENTORY_FIELDS
        for batch in shop.inventory.to_batches(max_chunksize=REDIS_PIPELINE_KEYS):
            pipeline = client.pipeline(transaction=False)
            rows = zip(*(batch.column(name).to_pylist() for name in ("pid", "quantity", "updated_at")))
            for pid, quantity, updated_at in rows:
                pipeline.hset(
                    INVENTORY_KEY_PREFIX + str(pid).encode(),
                    mapping={quantity_field: quantity, updated_at_field: updated_at},
                )
            pipeline.execute()
