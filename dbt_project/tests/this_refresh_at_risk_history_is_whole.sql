-- The at-risk list this refresh adds to at_risk_history: each product once, no product
-- missing, exactly the products of at_risk_in_a_week. Only this refresh's rows are read
-- (DuckDB skips the older ones by their as_of), so the test costs the same however many
-- refreshes the history holds.
with this_refresh as (
    select product_id from {{ ref('at_risk_history') }}
    where as_of = {{ as_of_timestamp() }}
)

select product_id, 'listed more than once' as problem
from this_refresh
group by product_id
having count(*) > 1

union all

select null, 'a row without a product' from this_refresh where product_id is null

union all

(
    select product_id, 'at risk but not in the history' from {{ ref('at_risk_in_a_week') }}
    except
    select product_id, 'at risk but not in the history' from this_refresh
)
