-- Every product's stock-out risk at the refresh instant (DESIGN.md §4, §5).
{% set horizon = var('horizon_days') | float %}
{% set threshold = var('stockout_threshold') | float %}
{% set reorder_factor = var('reorder_factor') | float %}
{% set safety_z = inverse_normal_cdf(var('service_level')) %}

with products as (
    select * from {{ ref('int_products_enriched') }}
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
        cast({{ epoch_to_timestamp(as_of_epoch() ~ ' + days_to_stockout * 86400') }} as date)
            as projected_stockout_date,
        coalesce(days_to_stockout < lead_time_days * {{ reorder_factor }}, false) as reorder_recommended,
        cast(greatest(0, ceil(
            coalesce(demand_rate, 0) * (coalesce(lead_time_days, 0) + {{ horizon }})
            + safety_stock - on_hand
        )) as bigint) as suggested_reorder_qty
    from measured
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
    projected_stockout_date,
    stockout_probability_7d,
    demand_distribution,
    reorder_recommended,
    safety_stock,
    suggested_reorder_qty,
    is_at_risk,
    ranked.risk_rank
from assessed
left join ranked on ranked.product_id = assessed.product_id
