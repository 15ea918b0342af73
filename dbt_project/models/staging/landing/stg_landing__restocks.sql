-- One row per restock (goods received). Deduplicated on id like sales.
with source as (
    select * from {{ source('landing', 'restocks') }}
),

renamed as (
    select
        cast(id as bigint) as restock_id,
        cast(pid as bigint) as product_id,
        cast(quantity as bigint) as quantity,
        cast(timestamp as bigint) as restocked_at_epoch,
        {{ epoch_to_timestamp('timestamp') }} as restocked_at
    from source
    where type = 'restock'
      and id is not null
      and pid is not null
      and timestamp is not null
      and quantity > 0
),

numbered as (
    select
        *,
        row_number() over (partition by restock_id order by restocked_at_epoch, product_id) as delivery_number
    from renamed
)

select restock_id, product_id, quantity, restocked_at_epoch, restocked_at
from numbered
where delivery_number = 1
