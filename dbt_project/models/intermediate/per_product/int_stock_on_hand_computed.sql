-- on_hand(p, T) (DESIGN.md §4), one row per product in one pass: the quantity of the
-- product's latest snapshot read at or before T plus the movements after it up to T; when no
-- snapshot precedes T, the earliest one after T minus the movements between T and it. A
-- product the inventory service never reported starts from zero before its first movement.
-- Every read of the inventory service is a whole file stamped with its instant, so the usual
-- case reads one snapshot file and the movements since it (at most a snapshot interval);
-- earlier files and older movements are read only when some product is missing from that file.
-- depends_on: {{ ref('int_inventory_movements') }}
{% set T = as_of_epoch() %}
{% set some = refreshes_some_products() %}
{% set instants = landed_snapshot_epochs() %}
{% set reads_before = instants | select('le', T) | list %}
{% set latest_read_epoch = reads_before[-1] if reads_before else -1 %}
{#- Only when some product is missing from the latest read are the other reads and older
    movements searched (at the benchmark tier, every refresh scanned every read otherwise). -#}
{% set any_missing = any_product_missing_from_read(latest_read_epoch, some) %}

with products as (
    select product_id from {{ ref('int_products_enriched') }}
    where {{ is_product_to_refresh('product_id', some) }}
),

latest_read as (
    -- the filter on snapshot_at_epoch reaches the Parquet scan: one file is read
    select product_id, snapshot_at_epoch as anchor_epoch, quantity as anchor_quantity
    from {{ ref('stg_landing__inventory_snapshots') }}
    where snapshot_at_epoch = {{ latest_read_epoch }}
),

not_in_latest_read as (
    select product_id from products
    where product_id not in (select product_id from latest_read)
),

other_reads as (
    -- products the latest read lacks: their own latest read at or before T, else their
    -- earliest read after T
    select product_id, snapshot_at_epoch as anchor_epoch, quantity as anchor_quantity
    from (
        select
            product_id,
            snapshot_at_epoch,
            quantity,
            row_number() over (
                partition by product_id
                order by case when snapshot_at_epoch <= {{ T }} then 0 else 1 end,
                    case when snapshot_at_epoch <= {{ T }} then -snapshot_at_epoch else snapshot_at_epoch end
            ) as preference
        from {{ ref('stg_landing__inventory_snapshots') }}
        where product_id in (select product_id from not_in_latest_read)
        {% if not any_missing %}
          and false
        {% endif %}
    ) as candidates
    where preference = 1
),

anchored as (
    select
        products.product_id,
        coalesce(latest_read.anchor_epoch, other_reads.anchor_epoch) as anchor_epoch,
        coalesce(latest_read.anchor_quantity, other_reads.anchor_quantity, 0) as anchor_quantity
    from products
    left join latest_read on latest_read.product_id = products.product_id
    left join other_reads on other_reads.product_id = products.product_id
),

moved_since_latest_read as (
    {% if reads_before %}
    select product_id, sum(signed_quantity) as change_to_t
    from {{ ref('int_inventory_movements') }}
    where occurred_at_epoch > {{ latest_read_epoch }}
      and occurred_at_epoch <= {{ T }}
      and {{ is_product_to_refresh('product_id', some) }}
    group by product_id
    {% else %}
    select cast(null as bigint) as product_id, cast(null as bigint) as change_to_t where false
    {% endif %}
),

moved_otherwise as (
    -- Signed so that anchor_quantity + change = on_hand(T) in both directions.
    select
        anchored.product_id,
        sum(
            case
                when anchored.anchor_epoch is null or movements.occurred_at_epoch <= {{ T }}
                    then movements.signed_quantity
                else -movements.signed_quantity
            end
        ) as change_to_t
    from anchored
    inner join {{ ref('int_inventory_movements') }} as movements
        on movements.product_id = anchored.product_id
        and (
            (anchored.anchor_epoch is null and movements.occurred_at_epoch <= {{ T }})
            or (movements.occurred_at_epoch > least(anchored.anchor_epoch, {{ T }})
                and movements.occurred_at_epoch <= greatest(anchored.anchor_epoch, {{ T }}))
        )
    where anchored.product_id in (select product_id from not_in_latest_read)
    {% if not any_missing %}
      and false
    {% endif %}
    group by anchored.product_id
)

select
    anchored.product_id,
    coalesce(anchored.anchor_epoch, -1) as anchor_epoch,
    anchored.anchor_quantity,
    cast(
        anchored.anchor_quantity
        + coalesce(moved_since_latest_read.change_to_t, moved_otherwise.change_to_t, 0)
        as bigint
    ) as on_hand
from anchored
left join moved_since_latest_read
    on moved_since_latest_read.product_id = anchored.product_id
    and anchored.anchor_epoch = {{ latest_read_epoch }}
left join moved_otherwise
    on moved_otherwise.product_id = anchored.product_id
