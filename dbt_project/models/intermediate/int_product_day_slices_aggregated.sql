-- One row per product and day slice k = 0..27 (slice k is (T - (k+1)*24h, T - k*24h]):
-- units moved in the slice, stock at its start, and whether it counts as an in-stock day.
-- A slice is in stock when on_hand at its start was > 0 or at least one unit sold in it, so a
-- day spent out of stock is not mistaken for a day of zero demand.
{% set window_days = 28 %}

with slice_numbers as (
    select cast(generated_number - 1 as integer) as slice_index
    from ({{ dbt.generate_series(window_days) }}) as numbers
),

products as (
    select product_id from {{ ref('int_products_enriched') }}
),

windowed_movements as (
    select
        product_id,
        {{ day_slice_index('occurred_at_epoch') }} as slice_index,
        movement_type,
        quantity
    from {{ ref('int_inventory_movements_unioned') }}
    where occurred_at_epoch > {{ as_of_epoch() - window_days * 86400 }}
      and occurred_at_epoch <= {{ as_of_epoch() }}
),

slice_totals as (
    select
        product_id,
        slice_index,
        sum(case when movement_type = 'sale' then quantity else 0 end) as units_sold,
        sum(case when movement_type = 'restock' then quantity else 0 end) as units_restocked,
        sum(case when movement_type = 'sale' then 1 else 0 end) as sale_count
    from windowed_movements
    group by product_id, slice_index
),

slice_start_stock as (
    -- The start of slice k is the boundary T - (k+1)*24h.
    select
        stock.product_id,
        cast(({{ as_of_epoch() }} - stock.at_epoch) / 86400 - 1 as integer) as slice_index,
        stock.on_hand as on_hand_at_start
    from {{ ref('int_stock_levels_reconstructed') }} as stock
    where stock.at_epoch < {{ as_of_epoch() }}
      and stock.at_epoch >= {{ as_of_epoch() - window_days * 86400 }}
      and mod({{ as_of_epoch() }} - stock.at_epoch, 86400) = 0
)

select
    products.product_id,
    slice_numbers.slice_index,
    {{ epoch_to_timestamp(as_of_epoch() ~ ' - (slice_numbers.slice_index + 1) * 86400') }} as slice_start,
    {{ epoch_to_timestamp(as_of_epoch() ~ ' - slice_numbers.slice_index * 86400') }} as slice_end,
    coalesce(slice_totals.units_sold, 0) as units_sold,
    coalesce(slice_totals.units_restocked, 0) as units_restocked,
    coalesce(slice_totals.sale_count, 0) as sale_count,
    slice_start_stock.on_hand_at_start,
    (slice_start_stock.on_hand_at_start > 0 or coalesce(slice_totals.units_sold, 0) > 0) as is_in_stock
from products
cross join slice_numbers
left join slice_totals
    on slice_totals.product_id = products.product_id
    and slice_totals.slice_index = slice_numbers.slice_index
left join slice_start_stock
    on slice_start_stock.product_id = products.product_id
    and slice_start_stock.slice_index = slice_numbers.slice_index
