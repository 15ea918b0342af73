-- Sales velocity of every product that sold in the last 28 days (DESIGN.md §4).
-- A view, as days_to_stockout: the measures are stored per product, and only as_of changes
-- for every row at every refresh.
{{ config(materialized='view') }}

select
    {{ as_of_timestamp() }} as as_of,
    product_id,
    units_sold_7d,
    units_restocked_7d,
    units_sold_28d,
    units_restocked_28d,
    in_stock_days_7d,
    in_stock_days_28d,
    velocity_7d,
    velocity_28d,
    velocity_ewma,
    net_velocity_7d,
    trend,
    demand_rate
from {{ ref('int_product_demand_summarized') }}
where units_sold_28d > 0
