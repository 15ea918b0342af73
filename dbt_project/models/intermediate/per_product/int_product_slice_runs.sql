-- The 28 day slices of every active product (any stock change in the 28 days up to T), as
-- runs: a slice with a change is a run of its own, and each stretch of slices without one is
-- a single run, since nothing in it differs from slice to slice (no sale, no receipt, the
-- same stock). Slice k is the 24 hours (T - (k+1)*24h, T - k*24h]. A slice is in stock when
-- on_hand at its start was > 0 or at least one unit sold in it, so a day spent out of stock
-- is not mistaken for a day of zero demand.
--
-- Stock at the start of slice k is on_hand(T) minus every change in slices 0..k, shrinkage
-- included, which is exactly on_hand at that instant from its nearest snapshot. The rows
-- follow the changes, not products x 28: a product that sold on 3 days has at most 7 runs.
-- Products without a change in the window are not here: their stock was on_hand(T) all
-- along, and int_product_demand_summarized treats them in closed form.

{% set some = refreshes_some_products() %}

with changed_slices as (
    select
        changes.product_id,
        changes.slice_index,
        changes.units_sold,
        changes.units_restocked,
        changes.sale_count,
        changes.net_change,
        stock.on_hand - sum(changes.net_change) over (
            partition by changes.product_id
            order by changes.slice_index
            rows between unbounded preceding and current row
        ) as on_hand_at_start,
        lag(changes.slice_index) over (
            partition by changes.product_id order by changes.slice_index
        ) as newer_changed_slice,
        lead(changes.slice_index) over (
            partition by changes.product_id order by changes.slice_index
        ) as older_changed_slice,
        stock.on_hand
    from {{ ref('int_stock_changes_sliced') }} as changes
    inner join {{ ref('int_stock_on_hand_computed') }} as stock
        on stock.product_id = changes.product_id
    where {{ is_product_to_refresh('changes.product_id', some) }}
),

runs as (
    select
        product_id,
        slice_index as first_slice_index,
        slice_index as last_slice_index,
        units_sold,
        units_restocked,
        sale_count,
        on_hand_at_start
    from changed_slices

    union all

    -- the unchanged slices between a change and the next newer one (or T): on_hand at their
    -- start is what the newer changed slice started with (on_hand(T) when there is none),
    -- which is this slice's start plus its own net change
    select
        product_id,
        coalesce(newer_changed_slice, -1) + 1,
        slice_index - 1,
        0,
        0,
        0,
        on_hand_at_start + net_change
    from changed_slices
    where coalesce(newer_changed_slice, -1) + 1 <= slice_index - 1

    union all

    -- older than the oldest change: the stock that change started from
    select product_id, slice_index + 1, 27, 0, 0, 0, on_hand_at_start
    from changed_slices
    where older_changed_slice is null
      and slice_index < 27
)

select
    product_id,
    cast(first_slice_index as integer) as first_slice_index,
    cast(last_slice_index as integer) as last_slice_index,
    cast(last_slice_index - first_slice_index + 1 as integer) as slice_count,
    cast(units_sold as bigint) as units_sold,
    cast(units_restocked as bigint) as units_restocked,
    cast(sale_count as bigint) as sale_count,
    cast(on_hand_at_start as bigint) as on_hand_at_start,
    (on_hand_at_start > 0 or units_sold > 0) as is_in_stock
from runs
