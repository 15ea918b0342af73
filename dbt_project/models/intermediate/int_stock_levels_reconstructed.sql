-- on_hand(p, t) (DESIGN.md §4) at every probe instant t of the refresh: the quantity of the
-- nearest snapshot at or before t plus the movements after it up to t, or, when no snapshot
-- precedes t, the earliest snapshot after t minus the movements between t and it. A product
-- the inventory service has never reported starts from zero before its first movement.
--
-- Both directions are one formula: on_hand(t) = Q(s) + C(t) - C(s), where C is the running
-- sum of signed movements. C is computed once per product over the span between its earliest
-- anchor and probe, so the work follows the window, not the history.
{% set virtual_anchor_epoch = -1 %}

with probe_points as (
    {{ stock_probe_points() }}
),

distinct_instants as (
    select distinct at_epoch from probe_points
),

products as (
    select product_id from {{ ref('int_products_enriched') }}
),

snapshots as (
    select product_id, snapshot_at_epoch, quantity from {{ ref('stg_landing__inventory_snapshots') }}
),

product_instants as (
    select products.product_id, distinct_instants.at_epoch
    from products
    cross join distinct_instants
),

anchor_choice as (
    select
        product_instants.product_id,
        product_instants.at_epoch,
        coalesce(
            max(case when snapshots.snapshot_at_epoch <= product_instants.at_epoch then snapshots.snapshot_at_epoch end),
            min(case when snapshots.snapshot_at_epoch > product_instants.at_epoch then snapshots.snapshot_at_epoch end),
            {{ virtual_anchor_epoch }}
        ) as anchor_epoch
    from product_instants
    left join snapshots
        on snapshots.product_id = product_instants.product_id
    group by product_instants.product_id, product_instants.at_epoch
),

anchored as (
    select
        anchor_choice.product_id,
        anchor_choice.at_epoch,
        anchor_choice.anchor_epoch,
        coalesce(snapshots.quantity, 0) as anchor_quantity
    from anchor_choice
    left join snapshots
        on snapshots.product_id = anchor_choice.product_id
        and snapshots.snapshot_at_epoch = anchor_choice.anchor_epoch
),

product_spans as (
    select
        product_id,
        least(min(at_epoch), min(anchor_epoch)) as span_start_epoch,
        greatest(max(at_epoch), max(anchor_epoch)) as span_end_epoch
    from anchored
    group by product_id
),

probes as (
    select product_id, at_epoch from anchored
    union
    select product_id, anchor_epoch as at_epoch from anchored
),

timeline as (
    -- Movements sort before a probe at the same second: on_hand(t) includes events at t.
    select
        movements.product_id,
        movements.occurred_at_epoch as at_epoch,
        0 as is_probe,
        movements.signed_quantity
    from {{ ref('int_inventory_movements_unioned') }} as movements
    inner join product_spans
        on movements.product_id = product_spans.product_id
        and movements.occurred_at_epoch > product_spans.span_start_epoch
        and movements.occurred_at_epoch <= product_spans.span_end_epoch
    union all
    select product_id, at_epoch, 1 as is_probe, 0 as signed_quantity
    from probes
),

running as (
    select
        product_id,
        at_epoch,
        is_probe,
        sum(signed_quantity) over (
            partition by product_id
            order by at_epoch, is_probe
            rows between unbounded preceding and current row
        ) as cumulative_movement
    from timeline
),

cumulative_at_probes as (
    select product_id, at_epoch, cumulative_movement
    from running
    where is_probe = 1
)

select
    anchored.product_id,
    anchored.at_epoch,
    anchored.anchor_epoch,
    anchored.anchor_quantity,
    cast(anchored.anchor_quantity + at_instant.cumulative_movement - at_anchor.cumulative_movement as bigint) as on_hand
from anchored
inner join cumulative_at_probes as at_instant
    on at_instant.product_id = anchored.product_id
    and at_instant.at_epoch = anchored.at_epoch
inner join cumulative_at_probes as at_anchor
    on at_anchor.product_id = anchored.product_id
    and at_anchor.at_epoch = anchored.anchor_epoch
