-- Every stock movement as one signed stream: restocks add, sales remove.
with sales as (
    select
        sale_id as movement_id,
        product_id,
        'sale' as movement_type,
        quantity,
        -quantity as signed_quantity,
        sold_at_epoch as occurred_at_epoch
    from {{ ref('stg_landing__sales') }}
),

restocks as (
    select
        restock_id as movement_id,
        product_id,
        'restock' as movement_type,
        quantity,
        quantity as signed_quantity,
        restocked_at_epoch as occurred_at_epoch
    from {{ ref('stg_landing__restocks') }}
)

select * from sales
union all
select * from restocks
