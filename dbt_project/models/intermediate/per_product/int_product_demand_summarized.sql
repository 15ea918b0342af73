-- Per product, the windowed sums and velocities of DESIGN.md §4 over the day slices, for
-- every product (the velocity mart keeps the ones that sold; the risk marts need them all).
-- Products with no stock change in 28 days have no slice rows: their stock was on_hand(T)
-- throughout, so every slice was in stock when that is > 0 and none otherwise, with no sales.
{% set alpha = var('smoothing_factor') | float %}
{% if alpha <= 0 or alpha > 1 %}
    {{ exceptions.raise_compiler_error("dbt var smoothing_factor must be in (0, 1], got " ~ alpha) }}
{% endif %}

{% set decay = 1 - alpha %}
{% set some = refreshes_some_products() %}

with runs as (
    select * from {{ ref('int_product_slice_runs') }}
    where {{ is_product_to_refresh('product_id', some) }}
),

summed as (
    select
        product_id,
        cast(sum(case when first_slice_index < 7 then units_sold else 0 end) as bigint) as units_sold_7d,
        cast(sum(case when first_slice_index < 7 then units_restocked else 0 end) as bigint) as units_restocked_7d,
        cast(sum(units_sold) as bigint) as units_sold_28d,
        cast(sum(units_restocked) as bigint) as units_restocked_28d,
        -- in-stock slices of a run that fall in 0..6
        cast(sum(case when is_in_stock then greatest(0, least(last_slice_index, 6) - first_slice_index + 1) else 0 end)
            as bigint) as in_stock_days_7d,
        cast(sum(case when is_in_stock then slice_count else 0 end) as bigint) as in_stock_days_28d,
        -- Exponentially weighted mean of in-stock daily sales, newest slice weighted most:
        -- weight (1 - alpha)^k for slice k (pandas' ewm(alpha, adjust=True) over the slices).
        -- Only changed slices (runs of one) sell; a run's weights sum to a geometric series.
        -- Summed as decimals: exact, so the result does not depend on the order the rows
        -- are added in (a re-run gives the same value to the last bit).
        cast(sum(case when is_in_stock then
                cast(power({{ decay }}, first_slice_index) * units_sold as decimal(38, 18)) end) as double)
            / nullif(cast(sum(case when is_in_stock then
                cast((power({{ decay }}, first_slice_index) - power({{ decay }}, last_slice_index + 1)) / {{ alpha }}
                    as decimal(38, 18))
            end) as double), 0) as velocity_ewma,
        cast(sum(units_sold * units_sold) as bigint) as units_sold_squares_28d
    from runs
    group by product_id
),

moments as (
    -- mean and sample variance of the 28 daily sales (the unchanged slices sold 0)
    select
        *,
        units_sold_28d / 28.0 as daily_sales_mean_28d,
        (units_sold_squares_28d - units_sold_28d * units_sold_28d / 28.0) / 27.0 as daily_sales_variance_28d
    from summed
),

with_stddev as (
    select *, sqrt(greatest(daily_sales_variance_28d, 0)) as daily_sales_stddev_28d
    from moments

    union all

    select
        stock.product_id,
        0 as units_sold_7d,
        0 as units_restocked_7d,
        0 as units_sold_28d,
        0 as units_restocked_28d,
        case when stock.on_hand > 0 then 7 else 0 end as in_stock_days_7d,
        case when stock.on_hand > 0 then 28 else 0 end as in_stock_days_28d,
        case when stock.on_hand > 0 then 0.0 end as velocity_ewma,
        0 as units_sold_squares_28d,
        0.0 as daily_sales_mean_28d,
        0.0 as daily_sales_variance_28d,
        0.0 as daily_sales_stddev_28d
    from {{ ref('int_stock_on_hand_computed') }} as stock
    where not exists (select 1 from runs where runs.product_id = stock.product_id)
      and {{ is_product_to_refresh('stock.product_id', some) }}
)

select
    product_id,
    units_sold_7d,
    units_restocked_7d,
    units_sold_28d,
    units_restocked_28d,
    in_stock_days_7d,
    in_stock_days_28d,
    cast(units_sold_7d as double) / nullif(in_stock_days_7d, 0) as velocity_7d,
    cast(units_sold_28d as double) / nullif(in_stock_days_28d, 0) as velocity_28d,
    velocity_ewma,
    cast(units_sold_7d - units_restocked_7d as double) / 7 as net_velocity_7d,
    (cast(units_sold_7d as double) / nullif(in_stock_days_7d, 0))
        / nullif(cast(units_sold_28d as double) / nullif(in_stock_days_28d, 0), 0) as trend,
    coalesce(
        cast(units_sold_7d as double) / nullif(in_stock_days_7d, 0),
        cast(units_sold_28d as double) / nullif(in_stock_days_28d, 0)
    ) as demand_rate,
    -- demand_rate as the exact fraction demand_units / demand_days, so that the at-risk test
    -- can be made in integers (no rounding at exactly the horizon).
    case when in_stock_days_7d > 0 then units_sold_7d else units_sold_28d end as demand_units,
    case when in_stock_days_7d > 0 then in_stock_days_7d else nullif(in_stock_days_28d, 0) end as demand_days,
    daily_sales_mean_28d,
    daily_sales_variance_28d,
    daily_sales_stddev_28d,
    -- sample variance > mean over the 28 slices, decided in integers (28 * sum of squares -
    -- sum^2 > 27 * sum) so that a variance equal to the mean is never over-dispersed by rounding
    coalesce(28 * units_sold_squares_28d - units_sold_28d * units_sold_28d > 27 * units_sold_28d, false)
        as is_over_dispersed,
    -- when this row was written (its transaction's start): publishing copies only the rows
    -- written since its last full copy (orchestration/publish.py, SPLIT_RELATIONS)
    current_timestamp as written_at
from with_stddev
