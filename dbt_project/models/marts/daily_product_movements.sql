-- Per product and UTC calendar day (the 28 days up to and including the day of T, the last
-- one cut at T): units moved and stock at the start and end of the day. Stock at the start is
-- on_hand just before midnight, so start + restocked - sold = end unless a snapshot in the day
-- corrected the stock (shrinkage).
{% set T = as_of_epoch() %}
{% set today_start = (T // 86400) * 86400 %}

with days as (
    select
        cast(generated_number - 1 as integer) as day_index,
        {{ today_start }} - (generated_number - 1) * 86400 as day_start_epoch
    from ({{ dbt.generate_series(28) }}) as numbers
),

products as (
    select product_id from {{ ref('int_products_enriched') }}
),

daily_totals as (
    select
        product_id,
        cast(floor((occurred_at_epoch - {{ today_start - 27 * 86400 }}) / 86400.0) as integer) as days_from_first,
        sum(case when movement_type = 'sale' then quantity else 0 end) as units_sold,
        sum(case when movement_type = 'restock' then quantity else 0 end) as units_restocked
    from {{ ref('int_inventory_movements_unioned') }}
    where occurred_at_epoch >= {{ today_start - 27 * 86400 }}
      and occurred_at_epoch <= {{ T }}
    group by 1, 2
),

stock as (
    select product_id, at_epoch, on_hand from {{ ref('int_stock_levels_reconstructed') }}
)

select
    {{ as_of_timestamp() }} as as_of,
    products.product_id,
    cast({{ epoch_to_timestamp('days.day_start_epoch') }} as date) as calendar_date,
    coalesce(daily_totals.units_sold, 0) as units_sold,
    coalesce(daily_totals.units_restocked, 0) as units_restocked,
    start_stock.on_hand as on_hand_start,
    end_stock.on_hand as on_hand_end,
    (start_stock.on_hand > 0 or coalesce(daily_totals.units_sold, 0) > 0) as is_in_stock
from products
cross join days
left join daily_totals
    on daily_totals.product_id = products.product_id
    and daily_totals.days_from_first = 27 - days.day_index
left join stock as start_stock
    on start_stock.product_id = products.product_id
    and start_stock.at_epoch = days.day_start_epoch - 1
left join stock as end_stock
    on end_stock.product_id = products.product_id
    and end_stock.at_epoch = least(days.day_start_epoch + 86399, {{ T }})
