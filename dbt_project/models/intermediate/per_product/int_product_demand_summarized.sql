-- Per product, the windowed sums and velocities of DESIGN.md §4 over the 28 day slices (slice
-- k is the 24 hours (T - (k+1)*24h, T - k*24h]), for every product (the velocity mart keeps
-- the ones that sold; the risk marts need them all), in one pass from the window's movements.
-- A slice is in stock when on_hand at its start was > 0 or at least one unit sold in it, so a
-- day spent out of stock is not mistaken for a day of zero demand.
-- Only the slices with a stock change are rows (macros/day_slices.sql,
-- stock_through_day_slices), after a row for T that carries on_hand(T). Each row stands for
-- itself and for the unchanged slices older than it up to the next change, which all started
-- with the stock it started with: the row of T for the slices newer than the newest change
-- (all 28 of a product with no change in the window), which started with on_hand(T).
-- An hourly refresh reads the listed products' slices from int_product_day_slices, which
-- int_stock_events_detected reads too, instead of walking them here.
{% set alpha = var('smoothing_factor') | float %}
{% if alpha <= 0 or alpha > 1 %}
    {{ exceptions.raise_compiler_error("dbt var smoothing_factor must be in (0, 1], got " ~ alpha) }}
{% endif %}

{% set decay = 1 - alpha %}
{% set some = refreshes_some_products() %}
{% set listed_slices = listed_day_slices(some) %}

with slices as (
    {%- if listed_slices is not none %}
    select * from {{ listed_slices }}
    {%- else %}
    {{ stock_through_day_slices(
        ref('int_product_movements_windowed'),
        ref('int_inventory_snapshots_reconciled'),
        ref('int_stock_on_hand_computed'),
        some,
    ) }}
    {%- endif %}
),

summed as (
    select
        product_id,
        cast(coalesce(sum(case when slice_index < 7 then units_sold end), 0) as bigint) as units_sold_7d,
        cast(coalesce(sum(case when slice_index < 7 then units_restocked end), 0) as bigint) as units_restocked_7d,
        cast(coalesce(sum(units_sold), 0) as bigint) as units_sold_28d,
        cast(coalesce(sum(units_restocked), 0) as bigint) as units_restocked_28d,
        cast(coalesce(sum(units_sold * units_sold), 0) as bigint) as units_sold_squares_28d,
        -- The in-stock slices as bits (slice k is bit k): a changed slice when it started with
        -- stock or sold; the unchanged slices a row stands for (slice_index + 1 ..
        -- older_changed_slice - 1) when it started with stock. The bits are disjoint, so
        -- or-ing them adds them up.
        bit_or(
            case when slice_index >= 0 and (on_hand_at_start > 0 or units_sold > 0)
                then {{ slice_bits('slice_index', 'slice_index + 1') }} else 0 end
            + case when on_hand_at_start > 0
                then {{ slice_bits('slice_index + 1', 'older_changed_slice') }} else 0 end
        ) as in_stock_slices,
        -- the numerator of the exponentially weighted mean: weight (1 - alpha)^k for slice k;
        -- only changed slices sell, and a slice that sold was in stock
        coalesce(sum({{ slice_weight(decay, 'slice_index', 'units_sold') }}), 0) as weighted_units_sold
    from slices
    group by product_id
),

moments as (
    select
        *,
        bit_count(in_stock_slices & 127) as in_stock_days_7d,
        bit_count(in_stock_slices) as in_stock_days_28d,
        -- Exponentially weighted mean of in-stock daily sales, newest slice weighted most:
        -- weight (1 - alpha)^k for slice k (pandas' ewm(alpha, adjust=True) over the slices),
        -- its denominator the weights of the in-stock slices, exact decimals like the numerator's
        -- (the order they are added in does not change the sum to the last bit)
        cast(weighted_units_sold as double) / nullif(cast(
            {%- for k in range(28) %}
            {% if not loop.first %}+ {% endif %}case when in_stock_slices & {{ 2 ** k }} <> 0 then {{ slice_weight(decay, k) }} else 0 end
            {%- endfor %} as double), 0) as velocity_ewma,
        -- mean and sample variance of the 28 daily sales (the unchanged slices sold 0)
        units_sold_28d / 28.0 as daily_sales_mean_28d,
        (units_sold_squares_28d - units_sold_28d * units_sold_28d / 28.0) / 27.0 as daily_sales_variance_28d
    from summed
)

select
    product_id,
    units_sold_7d,
    units_restocked_7d,
    units_sold_28d,
    units_restocked_28d,
    cast(in_stock_days_7d as bigint) as in_stock_days_7d,
    cast(in_stock_days_28d as bigint) as in_stock_days_28d,
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
    cast(case when in_stock_days_7d > 0 then in_stock_days_7d else nullif(in_stock_days_28d, 0) end as bigint)
        as demand_days,
    daily_sales_mean_28d,
    daily_sales_variance_28d,
    sqrt(greatest(daily_sales_variance_28d, 0)) as daily_sales_stddev_28d,
    -- sample variance > mean over the 28 slices, decided in integers (28 * sum of squares -
    -- sum^2 > 27 * sum) so that a variance equal to the mean is never over-dispersed by rounding
    coalesce(28 * units_sold_squares_28d - units_sold_28d * units_sold_28d > 27 * units_sold_28d, false)
        as is_over_dispersed,
    -- when this row was written (its transaction's start): publishing copies only the rows
    -- written since its last full copy (orchestration/publish.py, SPLIT_RELATIONS)
    current_timestamp as written_at
from moments
