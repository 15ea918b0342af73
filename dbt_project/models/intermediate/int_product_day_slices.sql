-- The day slices of the products this run recomputes (macros/day_slices.sql,
-- stock_through_day_slices: one row per product and slice with a stock change, after the
-- product's row for T), walked once for the two models that read them:
-- int_product_demand_summarized and int_stock_events_detected. At the benchmark tier an
-- hourly refresh walks about 10 M slices of 1.2 M products: about 5 s, and 1.2 s more to
-- write them into memory. Every run rebuilds them, so they are kept in memory for this dbt
-- run only (the `scratch` database, profiles.yml), never written to the warehouse file.
-- Only when int_products_to_refresh lists the products to recompute: a run that recomputes
-- every product (the first build, a --full-refresh, a new day's inventory read) leaves it
-- empty and each of the two models walks the slices itself, which keeps 30 M slices out of
-- memory. The two models read it exactly when they recompute the listed products
-- (macros/product_refresh.sql, refreshes_some_products, which requires this listing).
{{ config(materialized='table', database='scratch') }}
{% set some = listing_is_of_this_run(product_refresh_records().get('int_products_to_refresh')) %}

select *
from (
    {{ stock_through_day_slices(
        ref('int_product_movements_windowed'),
        ref('int_inventory_snapshots_reconciled'),
        ref('int_stock_on_hand_computed'),
        true,
    ) }}
) as slices
{%- if not some %}
where false
{%- endif %}
