{#- The SQL of int_inventory_snapshots_reconciled, a bounded number of snapshot pairs per
    statement (its model takes the first batch, its post-hook inserts the others). -#}

{#- How many snapshot pairs int_inventory_snapshots_reconciled reconciles in one statement:
    a week of daily snapshots. -#}
{% macro snapshot_pairs_per_statement() -%}
    {{ return(7) }}
{%- endmacro %}

{#- The reconciliation rows (int_inventory_snapshots_reconciled) of the snapshot instants
    `to_reconcile`, each against the read before it in `instants`. -#}
{% macro reconciled_snapshots(instants, to_reconcile) -%}
with snapshots as (
    select product_id, snapshot_at_epoch, quantity
    from {{ ref('stg_landing__inventory_snapshots') }}
),

{% for instant in to_reconcile %}
{% set previous = instants[instants.index(instant) - 1] %}
reconciled_{{ loop.index }} as (
    select
        current_read.product_id,
        current_read.snapshot_at_epoch,
        previous_read.snapshot_at_epoch as previous_snapshot_at_epoch,
        previous_read.quantity as previous_quantity,
        coalesce(movements.units_sold, 0) as units_sold_between,
        coalesce(movements.units_restocked, 0) as units_restocked_between,
        current_read.quantity as snapshot_quantity
    from snapshots as current_read
    inner join snapshots as previous_read
        on previous_read.product_id = current_read.product_id
        and previous_read.snapshot_at_epoch = {{ previous }}
    left join (
        select
            product_id,
            cast(sum(case when movement_type = 'sale' then quantity else 0 end) as bigint) as units_sold,
            cast(sum(case when movement_type = 'restock' then quantity else 0 end) as bigint) as units_restocked
        from {{ ref('int_inventory_movements') }}
        where occurred_at_epoch > {{ previous }}
          and occurred_at_epoch <= {{ instant }}
        group by product_id
    ) as movements
        on movements.product_id = current_read.product_id
    where current_read.snapshot_at_epoch = {{ instant }}
),
{% endfor %}

paired as (
    {% for instant in to_reconcile %}
    select * from reconciled_{{ loop.index }}
    {{ 'union all' if not loop.last }}
    {% else %}
    select
        cast(null as bigint) as product_id,
        cast(null as bigint) as snapshot_at_epoch,
        cast(null as bigint) as previous_snapshot_at_epoch,
        cast(null as bigint) as previous_quantity,
        cast(null as bigint) as units_sold_between,
        cast(null as bigint) as units_restocked_between,
        cast(null as bigint) as snapshot_quantity
    where false
    {% endfor %}
)

select
    product_id,
    snapshot_at_epoch,
    previous_snapshot_at_epoch,
    previous_quantity,
    units_sold_between,
    units_restocked_between,
    previous_quantity + units_restocked_between - units_sold_between as expected_quantity,
    snapshot_quantity,
    snapshot_quantity - (previous_quantity + units_restocked_between - units_sold_between) as shrinkage
from paired
where snapshot_quantity <> previous_quantity + units_restocked_between - units_sold_between
{%- endmacro %}

{#- Post-hook of int_inventory_snapshots_reconciled: the snapshots its statement left out
    (beyond the first snapshot_pairs_per_statement()), inserted a week at a time. -#}
{% macro reconcile_remaining_snapshots() -%}
    {%- set instants = landed_snapshot_epochs() -%}
    {%- set to_reconcile = snapshots_to_reconcile(instants) -%}
    {%- set size = snapshot_pairs_per_statement() -%}
    {%- for start in range(size, to_reconcile | length, size) %}
    insert into {{ this }} {{ reconciled_snapshots(instants, to_reconcile[start:start + size]) }};
    {%- endfor %}
{%- endmacro %}
