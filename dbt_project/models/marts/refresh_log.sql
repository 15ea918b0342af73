{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of', full_refresh=false) }}
-- One row per refresh instant ever built, so that "the previous refresh" is known even when
-- its at-risk list was empty. Re-running an instant replaces its row.
-- Never rebuilt by `--full-refresh` (full_refresh=false): it is the refreshes' memory.
select
    {{ as_of_timestamp() }} as as_of,
    count(*) as product_count,
    cast(sum(case when is_at_risk then 1 else 0 end) as bigint) as at_risk_count
from {{ ref('days_to_stockout') }}
