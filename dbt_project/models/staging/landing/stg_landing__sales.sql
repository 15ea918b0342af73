-- One row per sale event. The same id may have been delivered (and landed) more than once;
-- it counts once. Rows that can never be valid (non-positive quantity, no product, no time)
-- are excluded here as a last line of defence: landing quarantines them before they arrive.
with source as (
    select * from {{ source('landing', 'sales') }}
),

renamed as (
    select
        cast(id as bigint) as sale_id,
        cast(pid as bigint) as product_id,
        cast(quantity as bigint) as quantity,
        cast(timestamp as bigint) as sold_at_epoch,
        {{ epoch_to_timestamp('timestamp') }} as sold_at,
        cast(customer_id as bigint) as customer_id
    from source
    where type = 'sale'
      and id is not null
      and pid is not null
      and timestamp is not null
      and quantity > 0
),

numbered as (
    select
        *,
        row_number() over (partition by sale_id order by sold_at_epoch, product_id) as delivery_number
    from renamed
)

select sale_id, product_id, quantity, sold_at_epoch, sold_at, customer_id
from numbered
where delivery_number = 1
