-- Every delivered row that landing set aside, with why: nothing delivered is dropped
-- silently. Rows are as delivered (text), so a value no typed column could hold is kept.
select
    {{ as_of_timestamp() }} as as_of,
    entity,
    delivery,
    reason,
    detail,
    id,
    pid,
    type,
    quantity,
    timestamp,
    customer_id,
    quarantined_at,
    landing_run_id
from {{ ref('stg_landing__quarantined_rows') }}
