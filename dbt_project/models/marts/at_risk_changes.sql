-- Products that entered or left the at-risk list between the previous refresh and this one
-- (the batch counterpart of a stream's added/removed events). The previous refresh is the
-- latest instant before T that was built; with none, there is nothing to compare and no row.
with previous_refresh as (
    select max(as_of) as previous_as_of
    from {{ ref('refresh_log') }}
    where as_of < {{ as_of_timestamp() }}
),

current_list as (
    select * from {{ ref('at_risk_history') }}
    where as_of = {{ as_of_timestamp() }}
),

previous_list as (
    select lists.*
    from {{ ref('at_risk_history') }} as lists
    inner join previous_refresh on lists.as_of = previous_refresh.previous_as_of
),

changes as (
    select
        coalesce(current_list.product_id, previous_list.product_id) as product_id,
        case when previous_list.product_id is null then 'entered' else 'left' end as change,
        current_list.risk_rank,
        previous_list.risk_rank as previous_risk_rank,
        previous_list.days_to_stockout as previous_days_to_stockout,
        previous_list.stockout_probability_7d as previous_stockout_probability_7d
    from current_list
    full outer join previous_list
        on previous_list.product_id = current_list.product_id
    where current_list.product_id is null or previous_list.product_id is null
)

select
    {{ as_of_timestamp() }} as as_of,
    previous_refresh.previous_as_of,
    changes.product_id,
    products.product_name,
    products.sku,
    products.supplier_name,
    changes.change,
    changes.risk_rank,
    changes.previous_risk_rank,
    now_.stock_status,
    now_.on_hand,
    now_.days_to_stockout,
    changes.previous_days_to_stockout,
    now_.stockout_probability_7d,
    changes.previous_stockout_probability_7d
from changes
cross join previous_refresh
left join {{ ref('int_products_enriched') }} as products
    on products.product_id = changes.product_id
left join {{ ref('days_to_stockout') }} as now_
    on now_.product_id = changes.product_id
where previous_refresh.previous_as_of is not null
