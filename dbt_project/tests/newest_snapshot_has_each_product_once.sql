-- The newest inventory snapshot holds each product once (older reads were checked when they
-- were newest). Reads one snapshot file, not all of them, and only while that snapshot is new
-- (or on a full refresh): int_inventory_snapshots_reconciled, which dbt runs only after this
-- test passed, records the newest instant it took in, so the hourly refreshes of the rest of
-- the day do not read the same 10 M-row snapshot again.
{% set instants = landed_snapshot_epochs() %}
{% set newest = instants[-1] if instants else -1 %}
{% set checked_up_to = -1 if flags.FULL_REFRESH
    else processed_load_id('int_inventory_snapshots_reconciled.snapshot_at_epoch') %}
select product_id, snapshot_at_epoch, count(*) as reads
from {{ ref('stg_landing__inventory_snapshots') }}
where snapshot_at_epoch = {{ newest if newest > checked_up_to else -1 }}
group by product_id, snapshot_at_epoch
having count(*) > 1
