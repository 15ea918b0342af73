-- Per landing run and entity: rows delivered = rows landed + rows quarantined.
select
    {{ as_of_timestamp() }} as as_of,
    landing_run_id,
    min(landed_at) as landed_at,
    entity,
    cast(count(*) as bigint) as deliveries,
    cast(sum(source_rows) as bigint) as source_rows,
    cast(sum(landed_rows) as bigint) as landed_rows,
    cast(sum(landed_sales) as bigint) as landed_sales,
    cast(sum(landed_restocks) as bigint) as landed_restocks,
    cast(sum(quarantined_rows) as bigint) as quarantined_rows
from {{ ref('stg_landing__landing_manifests') }}
group by landing_run_id, entity
