-- Per product and day slice k (the 24 hours (T - (k+1)*24h, T - k*24h]), everything that
-- changed its stock: units sold and received, and the shrinkage found by snapshots read in
-- the slice. Only products and slices with a change have a row, so the work follows the
-- activity of the last 28 days, not the catalogue; movements come as hourly aggregates
-- (int_product_movements_windowed), not raw events.
{% set T = as_of_epoch() %}
{% set some = refreshes_some_products() %}
{% set window_start = T - 28 * 86400 %}

with movements as (
    select
        product_id,
        {{ day_slice_index('at_epoch') }} as slice_index,
        units_sold,
        units_restocked,
        sale_count,
        0 as shrinkage
    from {{ ref('int_product_movements_windowed') }}
    where {{ is_product_to_refresh('product_id', some) }}
),

shrinkage as (
    select
        product_id,
        {{ day_slice_index('snapshot_at_epoch') }} as slice_index,
        0 as units_sold,
        0 as units_restocked,
        0 as sale_count,
        shrinkage
    from {{ ref('int_inventory_snapshots_reconciled') }}
    where shrinkage <> 0
      and snapshot_at_epoch > {{ window_start }}
      and snapshot_at_epoch <= {{ T }}
      and {{ is_product_to_refresh('product_id', some) }}
),

changes as (
    select * from movements
    union all
    select * from shrinkage
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
