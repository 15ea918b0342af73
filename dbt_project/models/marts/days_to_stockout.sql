-- Every product's stock-out risk at the refresh instant (DESIGN.md §4, §5): the per-product
-- measures of int_product_risk_assessed with what holds T itself, which changes for every
-- product at every refresh: as_of, projected_stockout_date and the rank among the at-risk.
-- A view: the per-product rows are already stored, and copying all of them at every refresh
-- only to add those three columns took 17.6 s of a 77 s hourly refresh at the benchmark
-- tier. Its readers (at_risk_in_a_week, publishing, the checks) compute them as they read.
{{ config(materialized='view') }}

with assessed as (
    select * from {{ ref('int_product_risk_assessed') }}
),

ranked as (
    -- only the at-risk products are ranked: a window over every product's wide row sorted
    -- all 10 M of them at the benchmark tier
    select
        product_id,
        row_number() over (
            order by stockout_probability_7d desc, days_to_stockout asc, product_id asc
        ) as risk_rank
    from assessed
    where is_at_risk
)

select
    {{ as_of_timestamp() }} as as_of,
    assessed.product_id,
    product_name,
    sku,
    supplier_name,
    lead_time_days,
    stock_status,
    on_hand,
    units_sold_7d,
    units_restocked_7d,
    in_stock_days_7d,
    velocity_7d,
    velocity_28d,
    velocity_ewma,
    net_velocity_7d,
    demand_rate,
    trend,
    days_to_stockout,
    cast({{ epoch_to_timestamp(as_of_epoch() ~ ' + days_to_stockout * 86400') }} as date)
        as projected_stockout_date,
    stockout_probability_7d,
    demand_distribution,
    reorder_recommended,
    safety_stock,
    suggested_reorder_qty,
    is_at_risk,
    ranked.risk_rank
from assessed
left join ranked on ranked.product_id = assessed.product_id
