-- Per product and hour, the units sold and received: the per-product aggregate the window
-- models read instead of raw events. Hours are right-closed like the day slices, (e - 3600, e]
-- for the hour ending at e, and the events at exactly e are kept apart (at_epoch = e) from
-- the rest of the hour (at_epoch = e - 1): so every row has an instant that puts it in the
-- right day slice and the right calendar day, whatever whole hours a window is cut into.
-- Incremental: a run recomputes, from int_inventory_movements, only the hours that received
-- movements in the loads it has not processed yet (a late event re-opens its old hour), and
-- replaces those hours (delete+insert on hour_end_epoch).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='hour_end_epoch',
        on_schema_change='fail',
        post_hook=["{{ record_progress(newest_load_id()) }}"],
    )
}}
{% set affected_hours = [] %}
{% if is_incremental() %}
    {% set affected_hours = query_column(
        "select distinct " ~ hour_end_epoch('occurred_at_epoch') ~ " from " ~ ref('int_inventory_movements')
        ~ " where load_id > " ~ processed_load_id(this.name) ~ " order by 1"
    ) | map('int') | list %}
{% endif %}

with movements as (
    select
        product_id,
        {{ hour_end_epoch('occurred_at_epoch') }} as hour_end_epoch,
        case when occurred_at_epoch % 3600 = 0 then occurred_at_epoch
             else {{ hour_end_epoch('occurred_at_epoch') }} - 1 end as at_epoch,
        case when movement_type = 'sale' then quantity else 0 end as units_sold,
        case when movement_type = 'restock' then quantity else 0 end as units_restocked,
        case when movement_type = 'sale' then 1 else 0 end as sale_count
    from {{ ref('int_inventory_movements') }}
    {% if is_incremental() %}
    where occurred_at_epoch > {{ (affected_hours | min if affected_hours else 0) - 3600 }}
      and occurred_at_epoch <= {{ affected_hours | max if affected_hours else -1 }}
      and {{ hour_end_epoch('occurred_at_epoch') }} in ({{ affected_hours | join(', ') if affected_hours else 'null' }})
    {% endif %}
)

select
    product_id,
    hour_end_epoch,
    at_epoch,
    cast(sum(units_sold) as bigint) as units_sold,
    cast(sum(units_restocked) as bigint) as units_restocked,
    cast(sum(sale_count) as bigint) as sale_count
from movements
group by product_id, hour_end_epoch, at_epoch
order by hour_end_epoch, product_id
