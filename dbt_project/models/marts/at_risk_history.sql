{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of', full_refresh=false) }}
-- The at-risk list of every refresh instant, appended refresh by refresh (a re-run of an
-- instant replaces its list): the memory that at_risk_changes compares against.
-- History is never rebuilt: `--full-refresh` leaves it as it is (full_refresh=false).
select
    as_of,
    product_id,
    risk_rank,
    days_to_stockout,
    stockout_probability_7d
from {{ ref('at_risk_in_a_week') }}
