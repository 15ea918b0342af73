-- When, in the 28 days up to T, each product went out of stock, came back in stock, or fell
-- below its reorder point. Stock is followed second by second through the net movements of
-- each second, with each snapshot's shrinkage applied at the instant it was read (so it
-- agrees with on_hand as DESIGN.md §4 defines it). The reorder point is the current demand
-- over the reorder horizon: demand_rate x lead_time_days x reorder factor (below it,
-- reorder_recommended holds).
-- Second-by-second work is done only inside the day slices where an event is possible. The
-- stock at a slice's start is known (int_product_slice_runs); within the slice it stays
-- between that start less the slice's sales and any shrinkage found, and that start plus
-- its receipts and any surplus found. A slice whose range does not reach both sides of zero
-- or of the reorder point holds no event, and neither does an unchanged stretch.
-- Kept per product (macros/product_refresh.sql): a product nothing happened to in the
-- stretches the slice boundaries swept over keeps its events, which hold no T (stock_events
-- adds as_of).
{% set T = as_of_epoch() %}
{% set window_start = T - 28 * 86400 %}
{% set reorder_factor = var('reorder_factor') | float %}
{% set some = refreshes_some_products() %}

with reorder_points as (
    select
        products.product_id,
        demand.demand_rate * products.lead_time_days * {{ reorder_factor }} as reorder_point
    from {{ ref('int_products_enriched') }} as products
    left join {{ ref('int_product_demand_summarized') }} as demand
        on demand.product_id = products.product_id
    where {{ is_product_to_refresh('products.product_id', some) }}
),

shrinkage_by_slice as (
    select
        product_id,
        {{ day_slice_index('snapshot_at_epoch') }} as slice_index,
        sum(least(shrinkage, 0)) as losses,
        sum(greatest(shrinkage, 0)) as surpluses
    from {{ ref('int_inventory_snapshots_reconciled') }}
    where shrinkage <> 0
      and snapshot_at_epoch > {{ window_start }}
      and snapshot_at_epoch <= {{ T }}
      and {{ is_product_to_refresh('product_id', some) }}
    group by 1, 2
),

changed_slices as (
    select
        runs.product_id,
        runs.first_slice_index as slice_index,
        runs.on_hand_at_start,
        runs.on_hand_at_start - runs.units_sold + coalesce(shrinkage_by_slice.losses, 0) as lowest_possible,
        runs.on_hand_at_start + runs.units_restocked + coalesce(shrinkage_by_slice.surpluses, 0)
            as highest_possible,
        reorder_points.reorder_point
    from {{ ref('int_product_slice_runs') }} as runs
    inner join reorder_points on reorder_points.product_id = runs.product_id
    left join shrinkage_by_slice
        on shrinkage_by_slice.product_id = runs.product_id
        and shrinkage_by_slice.slice_index = runs.first_slice_index
    -- a changed slice is a run of one; an unchanged stretch holds no event
    where runs.units_sold > 0 or runs.units_restocked > 0 or shrinkage_by_slice.product_id is not null
),

eventful_slices as (
    select product_id, slice_index, on_hand_at_start, reorder_point
    from changed_slices
    where (lowest_possible <= 0 and highest_possible > 0)
       or (reorder_point > 0 and lowest_possible < reorder_point and highest_possible >= reorder_point)
),

changes as (
    -- every product's: the join with eventful_slices keeps those recomputed
    select product_id, occurred_at_epoch as at_epoch, signed_quantity as stock_change
    from {{ ref('int_inventory_movements') }}
    where occurred_at_epoch > {{ window_start }}
      and occurred_at_epoch <= {{ T }}
    union all
    select product_id, snapshot_at_epoch, shrinkage
    from {{ ref('int_inventory_snapshots_reconciled') }}
    where shrinkage <> 0
      and snapshot_at_epoch > {{ window_start }}
      and snapshot_at_epoch <= {{ T }}
),

per_second as (
    -- the eventful slices' changes alone are summed per second: joined before grouping, so
    -- the grouping does not see the other slices of an eventful product (most of its rows)
    select
        changes.product_id,
        eventful_slices.slice_index,
        changes.at_epoch,
        eventful_slices.on_hand_at_start,
        eventful_slices.reorder_point,
        sum(changes.stock_change) as stock_change
    from changes
    inner join eventful_slices
        on eventful_slices.product_id = changes.product_id
        and eventful_slices.slice_index = {{ day_slice_index('changes.at_epoch') }}
    group by 1, 2, 3, 4, 5
),

transitions as (
    select
        product_id,
        at_epoch,
        reorder_point,
        on_hand_at_start + sum(stock_change) over (
            partition by product_id, slice_index
            order by at_epoch
            rows between unbounded preceding and current row
        ) - stock_change as on_hand_before,
        on_hand_at_start + sum(stock_change) over (
            partition by product_id, slice_index
            order by at_epoch
            rows between unbounded preceding and current row
        ) as on_hand_after
    from per_second
),

events as (
    select *, 'out_of_stock' as event_type from transitions
    where on_hand_before > 0 and on_hand_after <= 0
    union all
    select *, 'back_in_stock' as event_type from transitions
    where on_hand_before <= 0 and on_hand_after > 0
    union all
    select *, 'below_reorder_point' as event_type from transitions
    where reorder_point > 0 and on_hand_before >= reorder_point and on_hand_after < reorder_point
)

select
    product_id,
    cast({{ epoch_to_timestamp('at_epoch') }} as date) as event_date,
    {{ epoch_to_timestamp('at_epoch') }} as event_at,
    event_type,
    cast(on_hand_before as bigint) as on_hand_before,
    cast(on_hand_after as bigint) as on_hand_after,
    reorder_point
from events
