-- Every product's stock-out risk measures (DESIGN.md §4) that do not hold T itself: kept per
-- product (macros/product_refresh.sql), so an hourly refresh recomputes only the products
-- something happened to. days_to_stockout adds as_of, projected_stockout_date and the rank.
{% set horizon = var('horizon_days') | float %}
{% set threshold = var('stockout_threshold') | float %}
{% set reorder_factor = var('reorder_factor') | float %}
{% set safety_z = inverse_normal_cdf(var('service_level')) %}
{% set some = refreshes_some_products() %}

with products as (
    select * from {{ ref('int_products_enriched') }}
    where {{ is_product_to_refresh('product_id', some) }}
),

stock_now as (
    select product_id, on_hand
    from {{ ref('int_stock_on_hand_computed') }}
),

demand as (
    select * from {{ ref('int_product_demand_summarized') }}
),

probabilities as (
    select * from {{ ref('int_stockout_probabilities_computed') }}
),

measured as (
    select
        products.product_id,
        products.product_name,
        products.sku,
        products.supplier_name,
        products.lead_time_days,
        stock_now.on_hand,
        demand.units_sold_7d,
        demand.units_restocked_7d,
        demand.in_stock_days_7d,
        demand.velocity_7d,
        demand.velocity_28d,
        demand.velocity_ewma,
        demand.net_velocity_7d,
        demand.demand_rate,
        demand.trend,
        demand.daily_sales_stddev_28d,
        case
            when demand.demand_rate is null or demand.demand_rate = 0 then null
            when stock_now.on_hand <= 0 then 0.0
            else stock_now.on_hand / demand.demand_rate
        end as days_to_stockout,
        -- on_hand - horizon * units / days <= threshold, multiplied out by days (> 0) so
        -- that a product exactly at the horizon is at risk whatever the float rounding.
        coalesce(
            demand.demand_rate > 0
            and (stock_now.on_hand - {{ threshold }}) * demand.demand_days
                <= {{ horizon }} * demand.demand_units,
            false
        ) as is_at_risk,
        probabilities.stockout_probability_7d,
        probabilities.demand_distribution,
        {{ safety_z }} * coalesce(demand.daily_sales_stddev_28d, 0)
            * sqrt(coalesce(products.lead_time_days, 0)) as safety_stock
    from products
    inner join stock_now on stock_now.product_id = products.product_id
    inner join demand on demand.product_id = products.product_id
    inner join probabilities on probabilities.product_id = products.product_id
),

assessed as (
    select
        *,
        case
            when on_hand <= 0 then 'out_of_stock'
            when is_at_risk then 'at_risk'
            else 'ok'
        end as stock_status,
        coalesce(days_to_stockout < lead_time_days * {{ reorder_factor }}, false) as reorder_recommended,
        cast(greatest(0, ceil(
            coalesce(demand_rate, 0) * (coalesce(lead_time_days, 0) + {{ horizon }})
            + safety_stock - on_hand
        )) as bigint) as suggested_reorder_qty
    from measured
)

select
    *,
    -- when this row was written (the transaction's start): publishing copies only the rows
    -- written since its last full copy of the table (orchestration/publish.py)
    current_timestamp as written_at
from assessed
