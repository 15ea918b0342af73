-- The products the per-product models recompute in this run (macros/product_refresh.sql):
-- those with a movement in a stretch a day-slice boundary swept over since the oldest T the
-- models are up to date with, or in a load they have not taken yet (a late event). Empty
-- when the models recompute every product instead (scope "all" in
-- intermediate.product_refresh_state).
-- moved_since_baseline: the product has a movement in a new load or after that oldest T
-- (the newest stretch, counted in whole hours): the only products whose rows change in a
-- model whose rows do not depend on where the slice boundaries lie (meta
-- independent_of_day_slices), such as on_hand at T.
-- depends_on: {{ ref('int_inventory_movements') }}
-- depends_on: {{ ref('int_product_hourly_movements') }}
{% set baseline = product_refresh_baseline() %}
{{
    config(
        post_hook=["{{ record_product_refresh('some' if product_refresh_baseline() else 'all', product_refresh_baseline()) }}"],
    )
}}

{% if baseline %}
select product_id, bool_or(moved_since_baseline) as moved_since_baseline
from (
    select product_id, true as moved_since_baseline
    from {{ ref('int_inventory_movements') }}
    where load_id > {{ baseline.load_id }}
    {% for first_hour_end, last_hour_end in swept_hour_ranges(baseline.as_of_epoch) %}
    union all
    select product_id, hour_end_epoch > {{ baseline.as_of_epoch }} as moved_since_baseline
    from {{ ref('int_product_hourly_movements') }}
    where hour_end_epoch between {{ first_hour_end }} and {{ last_hour_end }}
    {% endfor %}
) as moved
group by product_id
{% else %}
select cast(null as bigint) as product_id, cast(null as boolean) as moved_since_baseline
where false
{% endif %}
