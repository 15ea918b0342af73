-- Products with their supplier's name and lead time. Rebuilt only when the landed catalogue
-- changed (landing rewrites products.parquet or suppliers.parquet only then, with the hash
-- of its rows in the file's metadata): at the benchmark tier, joining and de-duplicating 10 M
-- products every hour cost more than any other model of the refresh. A changed catalogue
-- replaces every row in one transaction (the pre-hook empties the table, the model inserts).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ forget_catalogue_if_changed() }}"],
        post_hook=[
            "{{ assert_one_row_per_key() if not is_incremental() or catalogue_changed() else '' }}",
            "{{ record_catalogue_fingerprint() }}",
        ],
    )
}}
select
    products.product_id,
    products.product_name,
    products.sku,
    products.price,
    products.supplier_id,
    suppliers.supplier_name,
    suppliers.lead_time_days
from {{ ref('stg_landing__products') }} as products
left join {{ ref('stg_landing__suppliers') }} as suppliers
    on products.supplier_id = suppliers.supplier_id
{% if is_incremental() and not catalogue_changed() %}
where false
{% endif %}
