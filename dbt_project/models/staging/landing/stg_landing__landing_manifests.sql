-- One row per delivery landed: the counts of its manifest.
with source as (
    select * from {{ source('landing', 'landing_manifests') }}
)

select
    delivery,
    entity,
    origin,
    content_sha256,
    landing_run_id,
    cast(landed_at as bigint) as landed_at_epoch,
    {{ epoch_to_timestamp('landed_at') }} as landed_at,
    cast(source_rows as bigint) as source_rows,
    cast(landed_sales as bigint) as landed_sales,
    cast(landed_restocks as bigint) as landed_restocks,
    cast(landed_rows as bigint) as landed_rows,
    cast(quarantined_rows as bigint) as quarantined_rows
from source
