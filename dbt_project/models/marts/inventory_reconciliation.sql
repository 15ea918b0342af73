-- Shrinkage per product per inventory snapshot in the 28 days up to T (DESIGN.md §4):
-- reported, not hidden. Products whose count matched what the movements predict show 0.
select
    {{ as_of_timestamp() }} as as_of,
    product_id,
    {{ epoch_to_timestamp('snapshot_at_epoch') }} as snapshot_at,
    {{ epoch_to_timestamp('previous_snapshot_at_epoch') }} as previous_snapshot_at,
    previous_quantity,
    units_sold_between,
    units_restocked_between,
    expected_quantity,
    snapshot_quantity,
    shrinkage
from {{ ref('int_inventory_snapshots_reconciled') }}
