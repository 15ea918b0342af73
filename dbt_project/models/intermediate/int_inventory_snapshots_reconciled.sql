-- Each snapshot of a product compared with what the previous snapshot and the movements
-- between them predict: the difference is shrinkage (loss, theft, miscounts), or a surplus
-- when positive. Only snapshots read in the 28 days up to T are reconciled.
{% set window_start = as_of_epoch() - 28 * 86400 %}

with snapshots as (
    select product_id, snapshot_at_epoch, quantity
    from {{ ref('stg_landing__inventory_snapshots') }}
    where snapshot_at_epoch <= {{ as_of_epoch() }}
),

paired as (
    select
        product_id,
        snapshot_at_epoch,
        quantity,
        lag(snapshot_at_epoch) over (partition by product_id order by snapshot_at_epoch) as previous_snapshot_at_epoch,
        lag(quantity) over (partition by product_id order by snapshot_at_epoch) as previous_quantity
    from snapshots
),

in_window as (
    select *
    from paired
    where snapshot_at_epoch > {{ window_start }}
      and previous_snapshot_at_epoch is not null
),

movements_between as (
    select
        in_window.product_id,
        in_window.snapshot_at_epoch,
        cast(sum(case when movements.movement_type = 'sale' then movements.quantity else 0 end) as bigint) as units_sold,
        cast(sum(case when movements.movement_type = 'restock' then movements.quantity else 0 end) as bigint) as units_restocked
    from in_window
    inner join {{ ref('int_inventory_movements_unioned') }} as movements
        on movements.product_id = in_window.product_id
        and movements.occurred_at_epoch > in_window.previous_snapshot_at_epoch
        and movements.occurred_at_epoch <= in_window.snapshot_at_epoch
    group by in_window.product_id, in_window.snapshot_at_epoch
)

select
    in_window.product_id,
    in_window.snapshot_at_epoch,
    in_window.previous_snapshot_at_epoch,
    in_window.previous_quantity,
    coalesce(movements_between.units_sold, 0) as units_sold_between,
    coalesce(movements_between.units_restocked, 0) as units_restocked_between,
    in_window.previous_quantity + coalesce(movements_between.units_restocked, 0)
        - coalesce(movements_between.units_sold, 0) as expected_quantity,
    in_window.quantity as snapshot_quantity,
    in_window.quantity - (in_window.previous_quantity + coalesce(movements_between.units_restocked, 0)
        - coalesce(movements_between.units_sold, 0)) as shrinkage
from in_window
left join movements_between
    on movements_between.product_id = in_window.product_id
    and movements_between.snapshot_at_epoch = in_window.snapshot_at_epoch
