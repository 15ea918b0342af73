-- When, in the 28 days up to T, each product went out of stock, came back in stock, or fell
-- below its reorder point. Stock is followed second by second from on_hand at T - 28 days
-- through the net movements of each second, with each snapshot's shrinkage applied at the
-- instant it was read (so it agrees with on_hand as DESIGN.md §4 defines it). The reorder
-- point is the current demand over the reorder horizon: demand_rate x lead_time_days x
-- reorder factor (below it, reorder_recommended holds).
-- Second-by-second work is done only for the products that may have an event: those whose
-- stock could have fallen to zero or below the reorder point in the window. A slice's lowest
-- stock is at least its starting stock less its sales and any shrinkage found in it, so a
-- product whose every such floor (and on_hand at T) stays above both has no event.
{% set window_start = as_of_epoch() - 28 * 86400 %}
{% set reorder_factor = var('reorder_factor') | float %}

with reorder_points as (
    select
        products.product_id,
        demand.demand_rate * products.lead_time_days * {{ reorder_factor }} as reorder_point
    from {{ ref('int_products_enriched') }} as products
    left join {{ ref('int_product_demand_summarized') }} as demand
        on demand.product_id = products.product_id
),

slice_floors as (
    -- per slice with a change: its starting stock (on_hand(T) less the changes of slices 0..k)
    -- less everything that could have lowered it within the slice
    select
        changes.product_id,
        stock.on_hand,
        stock.on_hand - sum(changes.net_change) over (
            partition by changes.product_id
            order by changes.slice_index
            rows between unbounded preceding and current row
        ) - coalesce(changes.units_sold, 0) + least(coalesce(changes.shrinkage, 0), 0) as floor_stock
    from {{ ref('int_stock_changes_sliced') }} as changes
    inner join {{ ref('int_stock_on_hand_computed') }} as stock
        on stock.product_id = changes.product_id
),

candidates as (
    select slice_floors.product_id
    from slice_floors
    left join reorder_points on reorder_points.product_id = slice_floors.product_id
    group by slice_floors.product_id, slice_floors.on_hand, reorder_points.reorder_point
    having least(min(slice_floors.floor_stock), slice_floors.on_hand) <= 0
        or least(min(slice_floors.floor_stock), slice_floors.on_hand) < coalesce(reorder_points.reorder_point, 0)
),

start_stock as (
    -- on_hand(T - 28 days): on_hand(T) less every change in the window
    select stock.product_id, stock.on_hand - coalesce(sum(changes.net_change), 0) as on_hand
    from {{ ref('int_stock_on_hand_computed') }} as stock
    inner join {{ ref('int_stock_changes_sliced') }} as changes
        on changes.product_id = stock.product_id
    where stock.product_id in (select product_id from candidates)
    group by stock.product_id, stock.on_hand
),

changes as (
    select product_id, occurred_at_epoch as at_epoch, signed_quantity as stock_change
    from {{ ref('int_inventory_movements') }}
    where occurred_at_epoch > {{ window_start }}
      and occurred_at_epoch <= {{ as_of_epoch() }}
      and product_id in (select product_id from candidates)
    union all
    select product_id, snapshot_at_epoch, shrinkage
    from {{ ref('int_inventory_snapshots_reconciled') }}
    where shrinkage <> 0
      and snapshot_at_epoch > {{ window_start }}
      and snapshot_at_epoch <= {{ as_of_epoch() }}
      and product_id in (select product_id from candidates)
),

per_second as (
    select product_id, at_epoch, sum(stock_change) as stock_change
    from changes
    group by product_id, at_epoch
),

transitions as (
    select
        per_second.product_id,
        per_second.at_epoch,
        start_stock.on_hand + sum(per_second.stock_change) over (
            partition by per_second.product_id
            order by per_second.at_epoch
            rows between unbounded preceding and current row
        ) - per_second.stock_change as on_hand_before,
        start_stock.on_hand + sum(per_second.stock_change) over (
            partition by per_second.product_id
            order by per_second.at_epoch
            rows between unbounded preceding and current row
        ) as on_hand_after
    from per_second
    inner join start_stock on start_stock.product_id = per_second.product_id
),

with_reorder_point as (
    select transitions.*, reorder_points.reorder_point
    from transitions
    inner join reorder_points on reorder_points.product_id = transitions.product_id
),

events as (
    select *, 'out_of_stock' as event_type from with_reorder_point
    where on_hand_before > 0 and on_hand_after <= 0
    union all
    select *, 'back_in_stock' as event_type from with_reorder_point
    where on_hand_before <= 0 and on_hand_after > 0
    union all
    select *, 'below_reorder_point' as event_type from with_reorder_point
    where reorder_point > 0 and on_hand_before >= reorder_point and on_hand_after < reorder_point
)

select
    {{ as_of_timestamp() }} as as_of,
    product_id,
    cast({{ epoch_to_timestamp('at_epoch') }} as date) as event_date,
    {{ epoch_to_timestamp('at_epoch') }} as event_at,
    event_type,
    cast(on_hand_before as bigint) as on_hand_before,
    cast(on_hand_after as bigint) as on_hand_after,
    reorder_point
from events
