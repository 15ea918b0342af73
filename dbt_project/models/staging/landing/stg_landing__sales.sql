-- One row per landed sale event, with the file it was landed in. The same id may have been
-- delivered (and landed) more than once: int_inventory_movements counts it once. Rows that
-- can never be valid (non-positive quantity, no product, no time) are excluded here as a
-- last line of defence: landing quarantines them before they arrive.
with source as (
    select * from {{ source('landing', 'sales') }}
)

select
    cast(id as bigint) as sale_id,
    cast(pid as bigint) as product_id,
    cast(quantity as bigint) as quantity,
    cast(timestamp as bigint) as sold_at_epoch,
    {{ epoch_to_timestamp('timestamp') }} as sold_at,
    cast(customer_id as bigint) as customer_id,
    filename as landed_file
from source
where type = 'sale'
  and id is not null
  and pid is not null
  and timestamp is not null
  and quantity > 0
