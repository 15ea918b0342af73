-- Per product and UTC calendar day (the 28 days up to and including T's day, the last one
-- cut at T): units moved, stock at the start and end of the day, in-stock flag. Rows for the
-- products whose stock changed in those days or that are out of stock at T; a product
-- absent here sat unchanged, in stock, all 28 days.
-- Stock at the end of a day is on_hand(T) less every change after it (shrinkage found by a
-- snapshot included), so start + restocked - sold + shrinkage = end.
{% set T = as_of_epoch() %}
{% set today_start = (T // 86400) * 86400 %}
{% set first_day_start = today_start - 27 * 86400 %}

with days as (
    select cast(generated_number - 1 as integer) as days_before_today
    from ({{ dbt.generate_series(28) }}) as numbers
),

changes as (
    select product_id, at_epoch, units_sold, units_restocked, units_restocked - units_sold as net_change
    from {{ ref('int_product_movements_windowed') }}
    where at_epoch >= {{ first_day_start }}
    union all
    select product_id, snapshot_at_epoch, 0, 0, shrinkage
    from {{ ref('int_inventory_snapshots_reconciled') }}
    where shrinkage <> 0
      and snapshot_at_epoch >= {{ first_day_start }}
      and snapshot_at_epoch <= {{ T }}
),

daily_changes as (
    select
        product_id,
        cast(ceil(({{ today_start }} - at_epoch) / 86400.0) as integer) as days_before_today,
        sum(units_sold) as units_sold,
        sum(units_restocked) as units_restocked,
        sum(net_change) as net_change
    from changes
    group by 1, 2
),

stock as (
    select product_id, on_hand from {{ ref('int_stock_on_hand_computed') }}
),

listed_products as (
    select product_id from daily_changes
    union
    select product_id from stock where on_hand <= 0
),

filled as (
    select
        listed_products.product_id,
        days.days_before_today,
        coalesce(daily_changes.units_sold, 0) as units_sold,
        coalesce(daily_changes.units_restocked, 0) as units_restocked,
        coalesce(daily_changes.net_change, 0) as net_change
    from listed_products
    cross join days
    left join daily_changes
        on daily_changes.product_id = listed_products.product_id
        and daily_changes.days_before_today = days.days_before_today
),

with_stock as (
    -- changes after the day = those of the days nearer to T
    select
        filled.*,
        stock.on_hand - coalesce(sum(filled.net_change) over (
            partition by filled.product_id
            order by filled.days_before_today
            rows between unbounded preceding and 1 preceding
        ), 0) as on_hand_end
    from filled
    inner join stock on stock.product_id = filled.product_id
)

select
    {{ as_of_timestamp() }} as as_of,
    product_id,
    cast({{ epoch_to_timestamp(today_start ~ ' - days_before_today * 86400') }} as date) as calendar_date,
    cast(units_sold as bigint) as units_sold,
    cast(units_restocked as bigint) as units_restocked,
    cast(on_hand_end - net_change as bigint) as on_hand_start,
    cast(on_hand_end as bigint) as on_hand_end,
    (on_hand_end - net_change > 0 or units_sold > 0) as is_in_stock
from with_stock
