-- stockout_probability_7d (DESIGN.md §4): P(D >= on_hand - threshold) for the demand D over
-- the horizon, D ~ Poisson(horizon * demand_rate), or negative binomial with the same mean
-- when the 28 daily slices are over-dispersed (sample variance > mean), keeping their
-- variance-to-mean ratio. Exact sums of the probability mass function; the terms outside
-- mean +/- 12 standard deviations are skipped: a product's probability then misses one tail at
-- most, under 1 / (1 + 12^2) < 0.007 by Cantelli's inequality (20 deviations summed 40 %
-- more terms: 100 M of them for 2.6 M products at the benchmark tier).
{% set horizon = var('horizon_days') | float %}
{% set threshold = var('stockout_threshold') | float %}
{% set some = refreshes_some_products() %}

with inputs as (
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
    from {{ ref('int_product_demand_summarized') }} as demand
    inner join {{ ref('int_stock_on_hand_computed') }} as stock
        on stock.product_id = demand.product_id
    where {{ is_product_to_refresh('demand.product_id', some) }}
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
    from inputs
),

needs_sum as (
    select
        *,
        greatest(0, floor(expected_demand - 12 * demand_stddev - 10)) as first_term
    from shaped
    where expected_demand > 0
      and units_to_stockout > 0
      and units_to_stockout - 1 <= expected_demand + 12 * demand_stddev + 10
),

terms as (
    select
        product_id,
        pmf_family,
        expected_demand,
        nb_p,
        nb_r,
        {{ unnest_integer_range('first_term', 'ceil(units_to_stockout) - 1') }} as k
    from needs_sum
),

cumulative as (
    select
        product_id,
        -- decimal terms: an exact sum, the same whatever order the terms are added in
        cast(sum(cast(
            case pmf_family
                when 'poisson' then
                    exp(-expected_demand + k * ln(expected_demand) - {{ log_gamma('k + 1') }})
                else
                    exp({{ log_gamma('k + nb_r') }} - {{ log_gamma('nb_r') }} - {{ log_gamma('k + 1') }}
                        + nb_r * ln(nb_p) + k * ln(1 - nb_p))
            end
        as decimal(38, 18))) as double) as probability_below
    from terms
    group by product_id
)

select
    shaped.product_id,
    shaped.demand_distribution,
    shaped.dispersion_ratio,
    case
        when shaped.demand_rate is null then null
        when shaped.units_to_stockout <= 0 then 1.0
        when shaped.expected_demand = 0 then 0.0
        when cumulative.probability_below is null then 0.0
        else least(1.0, greatest(0.0, 1.0 - cumulative.probability_below))
    end as stockout_probability_7d
from shaped
left join cumulative
    on cumulative.product_id = shaped.product_id
