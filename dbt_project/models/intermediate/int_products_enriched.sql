-- Products with their supplier's name and lead time.
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
