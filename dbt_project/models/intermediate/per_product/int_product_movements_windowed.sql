-- The stock movements of the 28 days up to T, (T - 28 days, T], as (product, instant) rows
-- of units sold and received, for the window models to cut into day slices or calendar
-- days. Whole hours come from int_product_hourly_movements (one row per product per part of
-- an hour, at an instant inside it); only the hours a slice boundary cuts through — none when
-- T is on the hour, otherwise the 29 hours holding T - k days — are read event by event from
-- int_inventory_movements. So a refresh reads 28 days of hourly aggregates, never raw history.
-- depends_on: {{ ref('int_inventory_movements') }}
{% set T = as_of_epoch() %}
{% set some = refreshes_some_products() %}
{% set window_start = T - 28 * 86400 %}
{% set offset = T % 3600 %}
{% set cut_hours = [] %}
{% if offset != 0 %}
    {% for k in range(29) %}
        {% do cut_hours.append(T - k * 86400 - offset) %}
    {% endfor %}
{% endif %}

with whole_hours as (
    select product_id, at_epoch, units_sold, units_restocked, sale_count
    from {{ ref('int_product_hourly_movements') }}
    where hour_end_epoch - 3600 >= {{ window_start }}
      and hour_end_epoch <= {{ T }}
      and {{ is_product_to_refresh('product_id', some) }}
    {% if offset != 0 %}
      and hour_end_epoch - 3600 not in ({{ cut_hours | join(', ') }})
    {% endif %}
),

cut_hour_events as (
    {% for hour_start in cut_hours %}
    select
        product_id,
        occurred_at_epoch as at_epoch,
        case when movement_type = 'sale' then quantity else 0 end as units_sold,
        case when movement_type = 'restock' then quantity else 0 end as units_restocked,
        case when movement_type = 'sale' then 1 else 0 end as sale_count
    from {{ ref('int_inventory_movements') }}
    where occurred_at_epoch > {{ [hour_start, window_start] | max }}
      and occurred_at_epoch <= {{ [hour_start + 3600, T] | min }}
      and {{ is_product_to_refresh('product_id', some) }}
    {{ 'union all' if not loop.last }}
    {% else %}
    select
        cast(null as bigint) as product_id,
        cast(null as bigint) as at_epoch,
        cast(null as bigint) as units_sold,
        cast(null as bigint) as units_restocked,
        cast(null as bigint) as sale_count
    where false
    {% endfor %}
)

select * from whole_hours
union all
select * from cut_hour_events
