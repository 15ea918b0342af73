-- One row per product per inventory snapshot (a full read of the inventory service).
with source as (
    select * from {{ source('landing', 'inventory_snapshots') }}
),

renamed as (
    select
        cast(pid as bigint) as product_id,
        cast(quantity as bigint) as quantity,
        cast(updated_at as bigint) as updated_at_epoch,
        cast(snapshot_at as bigint) as snapshot_at_epoch,
        {{ epoch_to_timestamp('snapshot_at') }} as snapshot_at
    from source
    where pid is not null
      and quantity is not null
      and snapshot_at is not null
),

numbered as (
    select
        *,
        row_number() over (
            partition by product_id, snapshot_at_epoch order by updated_at_epoch desc
        ) as read_number
    from renamed
)

select product_id, quantity, updated_at_epoch, snapshot_at_epoch, snapshot_at
from numbered
where read_number = 1
