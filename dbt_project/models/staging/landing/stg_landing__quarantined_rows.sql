-- One row per delivered row that landing set aside. The delivered fields stay text: they
-- are kept as they arrived, including values no typed column could hold.
with source as (
    select * from {{ source('landing', 'quarantine') }}
)

select
    entity,
    delivery,
    landing_run_id,
    id,
    pid,
    type,
    quantity,
    timestamp,
    customer_id,
    reason,
    detail,
    cast(quarantined_at as bigint) as quarantined_at_epoch,
    {{ epoch_to_timestamp('quarantined_at') }} as quarantined_at
from source
