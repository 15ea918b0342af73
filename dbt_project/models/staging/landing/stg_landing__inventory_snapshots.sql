-- One row per product per inventory snapshot (a full read of the inventory service, one file
-- per read). No window over all reads here: a filter on snapshot_at_epoch reaches the Parquet
-- scan, so a model that wants one read opens one file. A read holds each product once (the
-- readers drop keys a Redis SCAN returns twice); tests/newest_snapshot_has_each_product_once
-- checks the newest read.
with source as (
    select * from {{ source('landing', 'inventory_snapshots') }}
)

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
