-- Suppliers and their lead times.
with source as (
    select * from {{ source('landing', 'suppliers') }}
),

renamed as (
    select
        cast(id as bigint) as supplier_id,
        cast(name as varchar) as supplier_name,
        cast(lead_time_days as integer) as lead_time_days
    from source
    where id is not null
),

numbered as (
    select *, row_number() over (partition by supplier_id order by supplier_name) as row_number_in_id
    from renamed
)

select supplier_id, supplier_name, lead_time_days
from numbered
where row_number_in_id = 1
