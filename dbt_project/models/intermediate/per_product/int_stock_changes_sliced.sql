-- Per product and day slice k (the 24 hours (T - (k+1)*24h, T - k*24h]), everything that
-- changed its stock: units sold and received, and the shrinkage found by snapshots read in
-- the slice. Only products and slices with a change have a row, so the work follows the
-- activity of the last 28 days, not the catalogue; movements come as hourly aggregates
-- (int_product_movements_windowed), not raw events.
--
-- An hourly refresh that recomputes some products (macros/product_refresh.sql) moves their
-- previous rows on instead of summing 28 days again, when its T and the previous one (P)
-- are on the hour: each hour a slice boundary swept over, (P - k days, T - k days], leaves
-- the slice it was in at P for the one it is in at T (k = 0: it enters the window; k = 28:
-- it leaves it). A movement in a load the previous rows did not take (a late event) is
-- added to the slice it had at P, and the swept hours, which hold it, carry it on to T. The
-- shrinkage does not move (an inventory read in a swept stretch recomputes every product).
-- depends_on: {{ ref('int_product_hourly_movements') }}
-- depends_on: {{ ref('int_inventory_movements') }}
{% set T = as_of_epoch() %}
{% set some = refreshes_some_products() %}
{% set window_start = T - 28 * 86400 %}
{% set previous = previous_state_on_the_hour() %}

with
{% if previous %}
{% set P = previous.as_of_epoch %}
previous_slices as (
    select product_id, slice_index, units_sold, units_restocked, sale_count
    from {{ previous_rows_of_products_to_refresh() }}
),

swept_hours as (
    select product_id, at_epoch, units_sold, units_restocked, sale_count
    from {{ ref('int_product_hourly_movements') }}
    where ({% for first_hour_end, last_hour_end in swept_hour_ranges(P) -%}
        hour_end_epoch between {{ first_hour_end }} and {{ last_hour_end }}{{ ' or ' if not loop.last }}
        {%- else %}false{% endfor %})
      and {{ is_product_to_refresh('product_id', some) }}
),

late_movements as (
    select
        product_id,
        occurred_at_epoch as at_epoch,
        case when movement_type = 'sale' then quantity else 0 end as units_sold,
        case when movement_type = 'restock' then quantity else 0 end as units_restocked,
        case when movement_type = 'sale' then 1 else 0 end as sale_count
    from {{ ref('int_inventory_movements') }}
    where load_id > {{ previous.load_id }}
      and occurred_at_epoch > {{ P - 28 * 86400 }}
      and occurred_at_epoch <= {{ P }}
),

movements as (
    select * from previous_slices
    union all
    -- a swept hour leaves its slice at P ...
    select product_id, {{ day_slice_index('at_epoch', P) }}, -units_sold, -units_restocked, -sale_count
    from swept_hours
    where at_epoch > {{ P - 28 * 86400 }} and at_epoch <= {{ P }}
    union all
    -- ... for its slice at T
    select product_id, {{ day_slice_index('at_epoch') }}, units_sold, units_restocked, sale_count
    from swept_hours
    where at_epoch > {{ window_start }} and at_epoch <= {{ T }}
    union all
    select product_id, {{ day_slice_index('at_epoch', P) }}, units_sold, units_restocked, sale_count
    from late_movements
),
{% else %}
movements as (
    select
        product_id,
        {{ day_slice_index('at_epoch') }} as slice_index,
        units_sold,
        units_restocked,
        sale_count
    from {{ ref('int_product_movements_windowed') }}
    where {{ is_product_to_refresh('product_id', some) }}
),
{% endif %}

shrinkage as (
    select
        product_id,
        {{ day_slice_index('snapshot_at_epoch') }} as slice_index,
        shrinkage
    from {{ ref('int_inventory_snapshots_reconciled') }}
    where shrinkage <> 0
      and snapshot_at_epoch > {{ window_start }}
      and snapshot_at_epoch <= {{ T }}
      and {{ is_product_to_refresh('product_id', some) }}
),

changes as (
    select product_id, slice_index, units_sold, units_restocked, sale_count, 0 as shrinkage, false as is_read
    from movements
    union all
    select product_id, slice_index, 0, 0, 0, shrinkage, true
    from shrinkage
)

select
    product_id,
    slice_index,
    cast(sum(units_sold) as bigint) as units_sold,
    cast(sum(units_restocked) as bigint) as units_restocked,
    cast(sum(sale_count) as bigint) as sale_count,
    cast(sum(shrinkage) as bigint) as shrinkage,
    cast(sum(units_restocked) - sum(units_sold) + sum(shrinkage) as bigint) as net_change
from changes
group by product_id, slice_index
-- a slice has a row while it holds a movement (every one moves at least a unit) or a read
-- that found shrinkage: moving the previous rows on can leave a slice with neither
having sum(units_sold) <> 0 or sum(units_restocked) <> 0 or bool_or(is_read)
