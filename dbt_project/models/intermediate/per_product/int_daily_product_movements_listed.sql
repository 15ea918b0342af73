-- Per product and UTC calendar day (the 28 days up to and including T's day, the last one
-- cut at T): units moved, stock at the start and end of the day, in-stock flag. One row for
-- every day a product's stock changed, and for every day it spent out of stock; a day
-- without a row is a day its stock did not change and stayed above zero (it then equals the
-- end of the product's previous row, or its on_hand at T when it has none after).
-- Stock at the end of a day is on_hand(T) less every change after it (shrinkage found by a
-- snapshot included), so start + restocked - sold + shrinkage = end. The work follows the
-- days with changes: quiet stretches are expanded into rows only while out of stock.
-- Kept per product (macros/product_refresh.sql) within a UTC day; every product's days move
-- when the day changes, so the first refresh of a new day recomputes them all.
{{ config(meta={'rows_hold_the_utc_day': true}) }}
{% set T = as_of_epoch() %}
{% set today_start = (T // 86400) * 86400 %}
{% set first_day_start = today_start - 27 * 86400 %}
{% set some = refreshes_some_products() %}

with changes as (
    select product_id, at_epoch, units_sold, units_restocked, units_restocked - units_sold as net_change
    from {{ ref('int_product_movements_windowed') }}
    where at_epoch >= {{ first_day_start }}
      and {{ is_product_to_refresh('product_id', some) }}
    union all
    select product_id, snapshot_at_epoch, 0, 0, shrinkage
    from {{ ref('int_inventory_snapshots_reconciled') }}
    where shrinkage <> 0
      and snapshot_at_epoch >= {{ first_day_start }}
      and snapshot_at_epoch <= {{ T }}
      and {{ is_product_to_refresh('product_id', some) }}
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
    where {{ is_product_to_refresh('product_id', some) }}
),

changed_days as (
    -- changes after a day = those of the days nearer to T
    select
        daily_changes.*,
        stock.on_hand - coalesce(sum(daily_changes.net_change) over (
            partition by daily_changes.product_id
            order by daily_changes.days_before_today
            rows between unbounded preceding and 1 preceding
        ), 0) as on_hand_end,
        lag(daily_changes.days_before_today) over (
            partition by daily_changes.product_id order by daily_changes.days_before_today
        ) as next_changed_day,
        lead(daily_changes.days_before_today) over (
            partition by daily_changes.product_id order by daily_changes.days_before_today
        ) as previous_changed_day
    from daily_changes
    inner join stock on stock.product_id = daily_changes.product_id
),

quiet_stretches as (
    -- days without a change, as stretches of constant stock (days_before_today first..last)
    select product_id, coalesce(next_changed_day, -1) + 1 as first_day, days_before_today - 1 as last_day,
        on_hand_end as level
    from changed_days
    union all
    -- before the oldest change of the 28 days: the stock it started from
    select product_id, days_before_today + 1, 27, on_hand_end - net_change
    from changed_days
    where previous_changed_day is null
    union all
    -- no change in the 28 days at all
    select product_id, 0, 27, on_hand
    from stock
    where on_hand <= 0
      and product_id not in (select product_id from daily_changes)
),

out_of_stock_days as (
    select product_id, {{ unnest_integer_range('first_day', 'last_day') }} as days_before_today, level
    from quiet_stretches
    where level <= 0
      and first_day <= last_day
),

listed as (
    select product_id, days_before_today, units_sold, units_restocked,
        on_hand_end - net_change as on_hand_start, on_hand_end
    from changed_days
    union all
    select product_id, days_before_today, 0, 0, level, level
    from out_of_stock_days
)

select
    product_id,
    cast({{ epoch_to_timestamp(today_start ~ ' - days_before_today * 86400') }} as date) as calendar_date,
    cast(units_sold as bigint) as units_sold,
    cast(units_restocked as bigint) as units_restocked,
    cast(on_hand_start as bigint) as on_hand_start,
    cast(on_hand_end as bigint) as on_hand_end,
    (on_hand_start > 0 or units_sold > 0) as is_in_stock,
    -- when this row was written (its transaction's start): publishing copies only the rows
    -- written since its last full copy (orchestration/publish.py, SPLIT_RELATIONS)
    current_timestamp as written_at
from listed
