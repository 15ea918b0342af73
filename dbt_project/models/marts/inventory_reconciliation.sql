-- Shrinkage (DESIGN.md §4) for every product and inventory snapshot read in the 28 days up
-- to T whose count differed from what the previous read and the movements between predict:
-- reported, not hidden. A count that matched is not listed (its shrinkage is 0).
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
where snapshot_at_epoch > {{ as_of_epoch() - 28 * 86400 }}
  and snapshot_at_epoch <= {{ as_of_epoch() }}
