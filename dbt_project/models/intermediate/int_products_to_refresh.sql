-- The products the per-product models recompute in this run (macros/product_refresh.sql):
-- those with a movement in a stretch a day-slice boundary swept over since the oldest T the
-- models are up to date with, or in a load they have not taken yet (a late event). Empty
-- when the models recompute every product instead (scope "all" in
-- intermediate.product_refresh_state).
-- Two narrower lists for the models whose rows move with less than every slice boundary
-- (meta recomputes_only names the column):
-- moved_since_baseline: a movement in a new load or after that oldest T (the newest
--   stretch, in whole hours): all that changes on_hand at T and the product days.
-- moved_at_window_edges: that, or a movement in the stretch leaving the 28-day window: all
--   that changes the window's rows when both Ts are on the hour (else every listed product,
--   as the hours the boundaries cut are read event by event).
-- depends_on: {{ ref('int_inventory_movements') }}
-- depends_on: {{ ref('int_product_hourly_movements') }}
{% set baseline = product_refresh_baseline() %}
{{
    config(
        post_hook=["{{ record_product_refresh('some' if product_refresh_baseline() else 'all', product_refresh_baseline()) }}"],
    )
}}

{% if baseline %}
{% set on_the_hour = as_of_epoch() % 3600 == 0 and baseline.as_of_epoch % 3600 == 0 %}
select
    product_id,
    bool_or(moved_since_baseline) as moved_since_baseline,
    bool_or(moved_since_baseline or leaves_the_window) as moved_at_window_edges
from (
    select product_id, true as moved_since_baseline, false as leaves_the_window
    from {{ ref('int_inventory_movements') }}
    where load_id > {{ baseline.load_id }}
    {% for first_hour_end, last_hour_end in swept_hour_ranges(baseline.as_of_epoch) %}
    union all
    {#- the ranges come k = 0 (the newest stretch) to k = 28 (the one leaving the window) #}
    select
        product_id,
        hour_end_epoch > {{ baseline.as_of_epoch }} as moved_since_baseline,
        {{ 'true' if loop.index0 == 28 or not on_the_hour else 'false' }} as leaves_the_window
    from {{ ref('int_product_hourly_movements') }}
    where hour_end_epoch between {{ first_hour_end }} and {{ last_hour_end }}
    {% endfor %}
) as moved
group by product_id
{% else %}
select
    cast(null as bigint) as product_id,
    cast(null as boolean) as moved_since_baseline,
    cast(null as boolean) as moved_at_window_edges
where false
{% endif %}
