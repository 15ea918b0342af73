"""The rules that decide whether a delivered `inventory_change` row may land (DESIGN.md §7).

A delivery — the rows read from the transaction database since the high-water mark, or one
file from the inbox — arrives as text (each field as delivered, so that a value no typed read
would accept can still be judged and kept) and is split row by row: landed, or quarantined
with one reason from a fixed list and a detail that names the value at fault. Rules apply in
the order of `REASONS`; a row gets the first that it breaks.

The rules run as one DuckDB query over Arrow tables, so a delivery of millions of rows is
judged without a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.sources import INVENTORY_CHANGE_SCHEMA

CHANGE_TYPES = ("sale", "restock")

# In the order they are applied.
REASONS = (
    "missing id",
    "unknown type",
    "missing pid",
    "unparseable quantity",
    "non-positive quantity",
    "unparseable timestamp",
    "far-future timestamp",
    "unparseable customer_id",
    "unknown product",
    "duplicate id",
)

# A delivered row as text: every field as the source or file holds it, NULL when absent.
DELIVERED_CHANGE_SCHEMA = pa.schema([(name, pa.string()) for name in INVENTORY_CHANGE_SCHEMA.names])

# What the judged delivery holds besides the delivered fields: where a valid row lands
# (`change_type`) and its typed values, or why it was set aside.
JUDGED_CHANGE_SCHEMA = pa.schema(
    [
        *DELIVERED_CHANGE_SCHEMA,
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("change_type", pa.string()),
        ("id_value", pa.int64()),
        ("pid_value", pa.int64()),
        ("quantity_value", pa.int64()),
        ("timestamp_value", pa.int64()),
        ("customer_id_value", pa.int64()),
    ]
)

# An integer as text: optional sign, digits, optionally ".0" (how float columns of CSV or
# pandas-written Parquet files render whole numbers).
_INTEGER_PATTERN = r"\s*[+-]?[0-9]+(\.0+)?\s*"


def _integer(column: str) -> str:
    """SQL: the text column as BIGINT, or NULL when it is not a whole number (DuckDB would
    otherwise round '1.5' to 2)."""
    return (
        f"case when regexp_full_match({column}, '{_INTEGER_PATTERN}') "
        f"then try_cast(regexp_replace(trim({column}), '\\.0+$', '') as bigint) end"
    )


def _quoted(column: str) -> str:
    """SQL: the delivered text for a message, quoted, or NULL."""
    return f"coalesce('''' || {column} || '''', 'NULL')"


def _not_an_integer(column: str) -> str:
    """SQL: why a field is no whole number: it is missing, or here is the text delivered."""
    return (
        f"case when {column} is null then '{column} is missing' "
        f"else '{column} ' || {_quoted(column)} || ' is not an integer' end"
    )


def _judge_sql(expected_types: tuple[str, ...], where_from: str) -> str:
    types = ", ".join(f"'{kind}'" for kind in expected_types)
    return f"""
    with parsed as (
        select
            delivered.*,
            {_integer("id")} as id_value,
            {_integer("pid")} as pid_value,
            {_integer("quantity")} as quantity_value,
            -- Unix seconds, or an ISO-8601 instant (naive means UTC) as files often carry.
            coalesce(
                {_integer("timestamp")},
                cast(floor(epoch(try_cast(trim(timestamp) as timestamptz))) as bigint)
            ) as timestamp_value,
            {_integer("customer_id")} as customer_id_value
        from delivered
    ),

    judged as (
        select
            *,
            case
                when id_value is null then 'missing id'
                when type is null or type not in ({types}) then 'unknown type'
                when pid_value is null then 'missing pid'
                when quantity_value is null then 'unparseable quantity'
                when quantity_value <= 0 then 'non-positive quantity'
                when timestamp_value is null then 'unparseable timestamp'
                when timestamp_value > $latest_timestamp then 'far-future timestamp'
                when nullif(trim(customer_id), '') is not null and customer_id_value is null
                    then 'unparseable customer_id'
                when pid_value not in (select id from known_products) then 'unknown product'
                when id_value in (select id from landed_ids) then 'duplicate id'
            end as first_reason
        from parsed
    ),

    numbered as (
        select
            *,
            -- Among the rows that pass every other rule, an id counts once: its first delivery.
            row_number() over (partition by id_value, first_reason is null order by ordinal) as delivery_number
        from judged
    ),

    decided as (
        select
            *,
            coalesce(first_reason, case when delivery_number > 1 then 'duplicate id' end) as reason
        from numbered
    )

    select
        id, pid, type, quantity, timestamp, customer_id,
        reason,
        case reason
            when 'missing id' then {_not_an_integer("id")}
            when 'unknown type' then 'type ' || {_quoted("type")} || ' is not {" or ".join(expected_types)}{where_from}'
            when 'missing pid' then {_not_an_integer("pid")}
            when 'unparseable quantity' then {_not_an_integer("quantity")}
            when 'non-positive quantity' then 'quantity ' || quantity_value || ' is not > 0'
            when 'unparseable timestamp' then 'timestamp ' || {_quoted("timestamp")} || ' is neither Unix seconds nor ISO-8601'
            when 'far-future timestamp' then 'timestamp ' || timestamp_value || ' is after ' || $latest_timestamp
                || ' (now plus STOCKOUT_FUTURE_TOLERANCE_HOURS)'
            when 'unparseable customer_id' then {_not_an_integer("customer_id")}
            when 'unknown product' then 'pid ' || pid_value || ' is not in the landed products catalogue'
            when 'duplicate id' then 'id ' || id_value || case
                when first_reason is null then ' occurs earlier in this delivery'
                else ' was already landed'
            end
        end as detail,
        case when reason is null then type end as change_type,
        id_value, pid_value, quantity_value, timestamp_value, customer_id_value
    from decided
    order by ordinal
    """


@dataclass(frozen=True)
class JudgedDelivery:
    """Every delivered row once, in delivery order, with its verdict (JUDGED_CHANGE_SCHEMA)."""

    rows: pa.Table

    def landed(self, change_type: str) -> pa.Table:
        """The valid rows of one type, typed as landed (INVENTORY_CHANGE_SCHEMA)."""
        keep = self.rows.filter(pc.equal(self.rows["change_type"], change_type))
        columns = ["id_value", "pid_value", "type", "quantity_value", "timestamp_value", "customer_id_value"]
        return pa.Table.from_arrays([keep[name] for name in columns], schema=INVENTORY_CHANGE_SCHEMA)

    def quarantined(self) -> pa.Table:
        """The rows set aside: delivered fields as text, reason and detail."""
        keep = self.rows.filter(pc.is_valid(self.rows["reason"]))
        return keep.select([*DELIVERED_CHANGE_SCHEMA.names, "reason", "detail"])


def ids_in_delivery(delivered: pa.Table) -> pa.Array:
    """The ids of a delivery that are whole numbers, for looking up which were landed before."""
    with duckdb.connect() as connection:
        connection.register("delivered", delivered)
        ids = connection.sql(
            f"select distinct {_integer('id')} as id from delivered where {_integer('id')} is not null"
        ).to_arrow_table()
    return ids["id"].combine_chunks()


def judge_delivery(
    delivered: pa.Table,
    expected_types: tuple[str, ...],
    known_product_ids: pa.Array,
    landed_ids: pa.Array,
    latest_timestamp: int,
    where_from: str = "",
) -> JudgedDelivery:
    """Apply the rules to a delivery (DELIVERED_CHANGE_SCHEMA).

    `expected_types`: the types that may land from this delivery; `known_product_ids`: the
    landed catalogue; `landed_ids`: ids of this delivery already landed by earlier ones;
    `latest_timestamp`: the latest plausible event time (Unix seconds); `where_from` is
    added to the message of a wrong type (e.g. " in a file of the sales inbox").
    """
    delivered = delivered.select(DELIVERED_CHANGE_SCHEMA.names).cast(DELIVERED_CHANGE_SCHEMA)
    numbered = delivered.append_column("ordinal", pa.array(range(delivered.num_rows), pa.int64()))
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.register("delivered", numbered)
        connection.register("known_products", pa.table({"id": known_product_ids.cast(pa.int64())}))
        connection.register("landed_ids", pa.table({"id": landed_ids.cast(pa.int64())}))
        judged = connection.sql(
            _judge_sql(expected_types, where_from.replace("'", "''")),
            params={"latest_timestamp": int(latest_timestamp)},
        ).to_arrow_table()
    return JudgedDelivery(judged.cast(JUDGED_CHANGE_SCHEMA))
