-- The product catalogue.
with source as (
    select * from {{ source('landing', 'products') }}
),

renamed as (
    select
        cast(id as bigint) as product_id,
        cast(name as varchar) as product_name,
        cast(sku as varchar) as sku,
        cast(price as double) as price,
        cast(supplier_id as bigint) as supplier_id
    from source
    where id is not null
),

numbered as (
    select *, row_number() over (partition by product_id order by sku) as row_number_in_id
    from renamed
)

select product_id, product_name, sku, price, supplier_id
from numbered
where row_number_in_id = 1
