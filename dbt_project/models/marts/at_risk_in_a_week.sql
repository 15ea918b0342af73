-- The products at risk of running out of stock within the horizon (7 days by default), most
-- at risk first. The published answer to the analysts' question.
select
    as_of,
    product_id,
    product_name,
    sku,
    supplier_name,
    lead_time_days,
    stock_status,
    on_hand,
    units_sold_7d,
    in_stock_days_7d,
    velocity_7d,
    velocity_28d,
    demand_rate,
    trend,
    days_to_stockout,
    projected_stockout_date,
    stockout_probability_7d,
    reorder_recommended,
    suggested_reorder_qty,
    risk_rank
from {{ ref('days_to_stockout') }}
where is_at_risk
