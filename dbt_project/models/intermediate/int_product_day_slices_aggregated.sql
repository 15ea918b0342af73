-- One row per active product (any stock change in the 28 days up to T) and day slice
-- k = 0..27: units moved, stock at the slice's start, and whether it counts as an in-stock
-- day. A slice is in stock when on_hand at its start was > 0 or at least one unit sold in it,
-- so a day spent out of stock is not mistaken for a day of zero demand.
--
-- Stock at the start of slice k is on_hand(T) minus every change in slices 0..k, shrinkage
-- included, which is exactly on_hand at that instant from its nearest snapshot. Products
-- without a change in the window are not here: their stock was on_hand(T) all along, and
-- int_product_demand_summarized treats them in closed form.
{% set T = as_of_epoch() %}

with slice_numbers as (
    select cast(generated_number - 1 as integer) as slice_index
    from ({{ dbt.generate_series(28) }}) as numbers
),

changes as (
    select * from {{ ref('int_stock_changes_sliced') }}
),

active_products as (
    select distinct product_id from changes
),

filled as (
    select
        active_products.product_id,
        slice_numbers.slice_index,
        coalesce(changes.units_sold, 0) as units_sold,
        coalesce(changes.units_restocked, 0) as units_restocked,
        coalesce(changes.sale_count, 0) as sale_count,
        coalesce(changes.net_change, 0) as net_change
    from active_products
    cross join slice_numbers
    left join changes
        on changes.product_id = active_products.product_id
        and changes.slice_index = slice_numbers.slice_index
),

with_stock as (
    select
        filled.*,
        stock.on_hand - sum(filled.net_change) over (
            partition by filled.product_id
            order by filled.slice_index
            rows between unbounded preceding and current row
        ) as on_hand_at_start
    from filled
    inner join {{ ref('int_stock_on_hand_computed') }} as stock
        on stock.product_id = filled.product_id
)

select
    product_id,
    slice_index,
    {{ epoch_to_timestamp(T ~ ' - (slice_index + 1) * 86400') }} as slice_start,
    {{ epoch_to_timestamp(T ~ ' - slice_index * 86400') }} as slice_end,
    units_sold,
    units_restocked,
    sale_count,
    cast(on_hand_at_start as bigint) as on_hand_at_start,
    (on_hand_at_start > 0 or units_sold > 0) as is_in_stock
from with_stock
