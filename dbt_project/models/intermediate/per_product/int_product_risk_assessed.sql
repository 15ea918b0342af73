-- Every product's stock-out risk measures (DESIGN.md §4) that do not hold T itself: kept per
-- product (macros/product_refresh.sql), so an hourly refresh recomputes only the products
-- something happened to. days_to_stockout adds as_of, projected_stockout_date and the rank.
-- The probability of a stock-out is computed here too rather than kept in a table of its own:
-- writing its rows back at each refresh cost more than computing them (README, Benchmark).
{% set horizon = var('horizon_days') | float %}
{% set threshold = var('stockout_threshold') | float %}
{% set reorder_factor = var('reorder_factor') | float %}
{% set safety_z = inverse_normal_cdf(var('service_level')) %}
{% set some = refreshes_some_products() %}

with products as (
    select * from {{ ref('int_products_enriched') }}
    where {{ is_product_to_refresh('product_id', some) }}
),

-- stock and demand are read twice (the probability and the measures): each is filtered to the
-- products recomputed first, or DuckDB would materialise all 10 M rows of it to share them
stock_now as (
    select product_id, on_hand
    from {{ ref('int_stock_on_hand_computed') }}
    where {{ is_product_to_refresh('product_id', some) }}
),

demand as (
    select * from {{ ref('int_product_demand_summarized') }}
    where {{ is_product_to_refresh('product_id', some) }}
),

-- stockout_probability_7d (DESIGN.md §4): P(D >= on_hand - threshold) for the demand D over
-- the horizon, D ~ Poisson(horizon * demand_rate), or negative binomial with the same mean
-- when the 28 daily slices are over-dispersed (sample variance > mean), keeping their
-- variance-to-mean ratio. Exact sums of the probability mass function over the terms within
-- mean +/- 12 standard deviations (and 10 units): a tail beyond them holds under
-- 1 / (1 + 12^2) < 0.007 by Cantelli's inequality, so a sum misses that much at most (20
-- deviations summed 40 % more terms: 100 M of them for 2.6 M products at the benchmark tier).
-- With n = ceil(on_hand - threshold) units to stock-out, P(D >= n) is summed over the
-- shorter of its two sides: the terms n .. last, or 1 - the terms first .. n - 1 (27 % fewer
-- terms than always the lower side at the benchmark tier). An n at or below the first term
-- leaves only the skipped lower tail below it: the probability is 1; an n beyond the last
-- term, 0.
probability_inputs as (
    select
        demand.product_id,
        demand.demand_rate,
        stock.on_hand - {{ threshold }} as units_to_stockout,
        {{ horizon }} * demand.demand_rate as expected_demand,
        case
            when demand.is_over_dispersed
            then demand.daily_sales_variance_28d / demand.daily_sales_mean_28d
            else 1.0
        end as dispersion_ratio
    from demand
    inner join stock_now as stock on stock.product_id = demand.product_id
),

shaped as (
    select
        *,
        case when dispersion_ratio > 1 then 'negative_binomial' else 'poisson' end as demand_distribution,
        -- A negative binomial this close to Poisson (r > 1e8) is computed as Poisson: the
        -- difference is far below 0.01, and ln Γ of such sizes loses the precision needed.
        case when dispersion_ratio > 1 and expected_demand / (dispersion_ratio - 1) <= 1e8
            then 'negative_binomial' else 'poisson' end as pmf_family,
        sqrt(expected_demand * dispersion_ratio) as demand_stddev,
        -- negative binomial: success probability p = 1 / ratio, size r = mean / (ratio - 1)
        1.0 / dispersion_ratio as nb_p,
        case when dispersion_ratio > 1 then expected_demand / (dispersion_ratio - 1) end as nb_r
    from probability_inputs
),

needs_sum as (
    select
        *,
        ceil(units_to_stockout) as stockout_units,
        greatest(0, floor(expected_demand - 12 * demand_stddev - 10)) as first_term,
        floor(expected_demand + 12 * demand_stddev + 10) as last_term
    from shaped
    where expected_demand > 0
      and units_to_stockout > 0
),

summed_sides as (
    select
        *,
        last_term - stockout_units + 1 < stockout_units - first_term as sums_upper_side
    from needs_sum
    where stockout_units > first_term
      and stockout_units - 1 <= last_term
),

terms as (
    select
        product_id,
        pmf_family,
        expected_demand,
        nb_p,
        nb_r,
        sums_upper_side,
        {{ unnest_integer_range(
            'case when sums_upper_side then stockout_units else first_term end',
            'case when sums_upper_side then last_term else stockout_units - 1 end') }} as k
    from summed_sides
),

cumulative as (
    select
        product_id,
        sums_upper_side,
        -- decimal terms: an exact sum, the same whatever order the terms are added in
        cast(sum(cast(
            case pmf_family
                when 'poisson' then
                    exp(-expected_demand + k * ln(expected_demand) - {{ log_gamma('k + 1') }})
                else
                    exp({{ log_gamma('k + nb_r') }} - {{ log_gamma('nb_r') }} - {{ log_gamma('k + 1') }}
                        + nb_r * ln(nb_p) + k * ln(1 - nb_p))
            end
        as decimal(38, 18))) as double) as side_probability
    from terms
    group by product_id, sums_upper_side
),

probabilities as (
    select
        shaped.product_id,
        shaped.demand_distribution,
        case
            when shaped.demand_rate is null then null
            when shaped.units_to_stockout <= 0 then 1.0
            when shaped.expected_demand = 0 then 0.0
            when needs_sum.stockout_units <= needs_sum.first_term then 1.0
            when cumulative.side_probability is null then 0.0
            when cumulative.sums_upper_side then least(1.0, greatest(0.0, cumulative.side_probability))
            else least(1.0, greatest(0.0, 1.0 - cumulative.side_probability))
        end as stockout_probability_7d
    from shaped
    left join needs_sum
        on needs_sum.product_id = shaped.product_id
    left join cumulative
        on cumulative.product_id = shaped.product_id
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
