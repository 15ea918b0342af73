-- on_hand(p, T) (DESIGN.md §4), one row per product in one pass: the quantity of the
-- product's latest snapshot read at or before T plus the movements after it up to T; when no
-- snapshot precedes T, the earliest one after T minus the movements between T and it. A
-- product the inventory service never reported starts from zero before its first movement.
{% set T = as_of_epoch() %}

with snapshots as (
    select product_id, snapshot_at_epoch, quantity
    from {{ ref('stg_landing__inventory_snapshots') }}
),

anchor_choice as (
    select
        product_id,
        coalesce(
            max(case when snapshot_at_epoch <= {{ T }} then snapshot_at_epoch end),
            min(case when snapshot_at_epoch > {{ T }} then snapshot_at_epoch end)
        ) as anchor_epoch
    from snapshots
    group by product_id
),

anchored as (
    select
        products.product_id,
        anchor_choice.anchor_epoch,
        coalesce(snapshots.quantity, 0) as anchor_quantity
    from {{ ref('int_products_enriched') }} as products
    left join anchor_choice
        on anchor_choice.product_id = products.product_id
    left join snapshots
        on snapshots.product_id = anchor_choice.product_id
        and snapshots.snapshot_at_epoch = anchor_choice.anchor_epoch
),

movements_to_t as (
    -- Signed so that anchor_quantity + sum = on_hand(T) in both directions.
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
    inner join {{ ref('int_inventory_movements_unioned') }} as movements
        on movements.product_id = anchored.product_id
        and (
            (anchored.anchor_epoch is null and movements.occurred_at_epoch <= {{ T }})
            or (movements.occurred_at_epoch > least(anchored.anchor_epoch, {{ T }})
                and movements.occurred_at_epoch <= greatest(anchored.anchor_epoch, {{ T }}))
        )
    group by anchored.product_id
)

select
    anchored.product_id,
    coalesce(anchored.anchor_epoch, -1) as anchor_epoch,
    anchored.anchor_quantity,
    cast(anchored.anchor_quantity + coalesce(movements_to_t.change_to_t, 0) as bigint) as on_hand
from anchored
left join movements_to_t
    on movements_to_t.product_id = anchored.product_id
