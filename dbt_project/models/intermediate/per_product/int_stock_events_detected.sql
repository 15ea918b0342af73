-- When, in the 28 days up to T, each product went out of stock, came back in stock, or fell
-- below its reorder point. Stock is followed second by second through the net movements of
-- each second, with each snapshot's shrinkage applied at the instant it was read (so it
-- agrees with on_hand as DESIGN.md §4 defines it). The reorder point is the current demand
-- over the reorder horizon: demand_rate x lead_time_days x reorder factor (below it,
-- reorder_recommended holds).
-- Second-by-second work is done only inside the hours where an event is possible, found in
-- two narrowing steps. Stock within a span of time stays between its start less the span's
-- sales and any shrinkage found, and its start plus its receipts and any surplus found; a
-- span whose range does not reach both sides of zero or of the reorder point holds no event.
-- The day slices with a change are walked back from on_hand(T) to their starting stock
-- (macros/day_slices.sql, stock_through_day_slices), so the slices that may hold an event are found
-- first; their hours (int_product_movements_windowed) are then walked from the slice's start,
-- and only the hours that may hold an event are read event by event from
-- int_inventory_movements.
-- Kept per product (macros/product_refresh.sql): a product nothing happened to in the
-- stretches the slice boundaries swept over keeps its events, which hold no T (stock_events
-- adds as_of).
{% set T = as_of_epoch() %}
{% set window_start = T - 28 * 86400 %}
{% set reorder_factor = var('reorder_factor') | float %}
{% set some = refreshes_some_products() %}
{% set listed_slices = listed_day_slices(some) %}
{#- A span of time whose stock stays within [lowest_possible, highest_possible] can hold an
    event only if that range reaches both sides of zero or of the reorder point. -#}
{% set may_hold_an_event -%}
    ((lowest_possible <= 0 and highest_possible > 0)
     or (reorder_point > 0 and lowest_possible < reorder_point and highest_possible >= reorder_point))
{%- endset %}

with reorder_points as (
    select
        products.product_id,
        demand.demand_rate * products.lead_time_days * {{ reorder_factor }} as reorder_point
    from {{ ref('int_products_enriched') }} as products
    left join {{ ref('int_product_demand_summarized') }} as demand
        on demand.product_id = products.product_id
    where {{ is_product_to_refresh('products.product_id', some) }}
),

stock as (
    select stock.product_id, stock.on_hand, reorder_points.reorder_point
    from {{ ref('int_stock_on_hand_computed') }} as stock
    left join reorder_points on reorder_points.product_id = stock.product_id
),

slices as (
    {%- if listed_slices is not none %}
    -- an hourly refresh: the listed products' slices, walked once for this model and
    -- int_product_demand_summarized
    select listed.*, reorder_points.reorder_point
    from {{ listed_slices }} as listed
    left join reorder_points on reorder_points.product_id = listed.product_id
    {%- else %}
    -- each product's reorder point comes with its slices like on_hand: joining the 10 M
    -- products' reorder points to the 21 M changed slices ran out of DuckDB's memory limit
    -- at the benchmark tier
    {{ stock_through_day_slices(
        ref('int_product_movements_windowed'),
        ref('int_inventory_snapshots_reconciled'),
        'stock',
        some,
        carried=['reorder_point'],
    ) }}
    {%- endif %}
),

changed_slices as (
    -- a slice without a change holds no event
    select
        slices.product_id,
        slices.slice_index,
        slices.on_hand_at_start,
        slices.on_hand_at_start - slices.units_sold + slices.losses as lowest_possible,
        slices.on_hand_at_start + slices.units_restocked + slices.surpluses as highest_possible,
        slices.reorder_point
    from slices
    where slices.slice_index >= 0
),

eventful_slices as (
    select product_id, slice_index, on_hand_at_start, reorder_point
    from changed_slices
    where {{ may_hold_an_event }}
),

hour_changes as (
    -- the eventful slices' movements per hour (per part of an hour when a slice boundary
    -- cuts it), and the shrinkage found in them
    select
        windowed.product_id,
        eventful_slices.slice_index,
        {{ hour_end_epoch('windowed.at_epoch') }} as hour_end_epoch,
        windowed.units_sold,
        windowed.units_restocked,
        0 as shrinkage
    from {{ ref('int_product_movements_windowed') }} as windowed
    inner join eventful_slices
        on eventful_slices.product_id = windowed.product_id
        and eventful_slices.slice_index = {{ day_slice_index('windowed.at_epoch') }}
    union all
    select
        snapshots.product_id,
        eventful_slices.slice_index,
        {{ hour_end_epoch('snapshots.snapshot_at_epoch') }},
        0,
        0,
        snapshots.shrinkage
    from {{ ref('int_inventory_snapshots_reconciled') }} as snapshots
    inner join eventful_slices
        on eventful_slices.product_id = snapshots.product_id
        and eventful_slices.slice_index = {{ day_slice_index('snapshots.snapshot_at_epoch') }}
    where snapshots.shrinkage <> 0
      and snapshots.snapshot_at_epoch > {{ window_start }}
      and snapshots.snapshot_at_epoch <= {{ T }}
),

hours as (
    select
        product_id,
        slice_index,
        hour_end_epoch,
        sum(units_sold) as units_sold,
        sum(units_restocked) as units_restocked,
        sum(least(shrinkage, 0)) as losses,
        sum(greatest(shrinkage, 0)) as surpluses,
        sum(units_restocked - units_sold + shrinkage) as net_change
    from hour_changes
    group by product_id, slice_index, hour_end_epoch
),

hours_walked as (
    -- stock at an hour's start: its slice's start plus the slice's earlier hours
    select
        hours.product_id,
        hours.slice_index,
        hours.hour_end_epoch,
        hours.units_sold,
        hours.units_restocked,
        hours.losses,
        hours.surpluses,
        eventful_slices.on_hand_at_start + coalesce(sum(hours.net_change) over (
            partition by hours.product_id, hours.slice_index
            order by hours.hour_end_epoch
            rows between unbounded preceding and 1 preceding
        ), 0) as on_hand_at_start,
        eventful_slices.reorder_point
    from hours
    inner join eventful_slices
        on eventful_slices.product_id = hours.product_id
        and eventful_slices.slice_index = hours.slice_index
),

eventful_hours as (
    select product_id, slice_index, hour_end_epoch, on_hand_at_start, reorder_point
    from (
        select
            *,
            on_hand_at_start - units_sold + losses as lowest_possible,
            on_hand_at_start + units_restocked + surpluses as highest_possible
        from hours_walked
    ) as ranged
    where {{ may_hold_an_event }}
),

changes as (
    -- every product's: the join with eventful_hours keeps those recomputed
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
    -- the eventful hours' changes alone are summed per second: joined before grouping, so
    -- the grouping does not see the other hours of an eventful product (most of its rows)
    select
        changes.product_id,
        eventful_hours.slice_index,
        eventful_hours.hour_end_epoch,
        changes.at_epoch,
        eventful_hours.on_hand_at_start,
        eventful_hours.reorder_point,
        sum(changes.stock_change) as stock_change
    from changes
    inner join eventful_hours
        on eventful_hours.product_id = changes.product_id
        and eventful_hours.hour_end_epoch = {{ hour_end_epoch('changes.at_epoch') }}
        and eventful_hours.slice_index = {{ day_slice_index('changes.at_epoch') }}
    group by 1, 2, 3, 4, 5, 6
),

transitions as (
    select
        product_id,
        at_epoch,
        reorder_point,
        on_hand_at_start + sum(stock_change) over (
            partition by product_id, slice_index, hour_end_epoch
            order by at_epoch
            rows between unbounded preceding and current row
        ) - stock_change as on_hand_before,
        on_hand_at_start + sum(stock_change) over (
            partition by product_id, slice_index, hour_end_epoch
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
