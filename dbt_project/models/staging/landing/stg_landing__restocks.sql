-- One row per landed restock (goods received), with the file it was landed in; counted
-- once per id like sales (int_inventory_movements).
with source as (
    select * from {{ source('landing', 'restocks') }}
)

select
    cast(id as bigint) as restock_id,
    cast(pid as bigint) as product_id,
    cast(quantity as bigint) as quantity,
    cast(timestamp as bigint) as restocked_at_epoch,
    {{ epoch_to_timestamp('timestamp') }} as restocked_at,
    filename as landed_file
from source
where type = 'restock'
  and id is not null
  and pid is not null
  and timestamp is not null
  and quantity > 0
