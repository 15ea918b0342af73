-- The newest inventory snapshot holds each product once (older reads were checked when they
-- were newest). Reads one snapshot file, not all of them.
{% set instants = landed_snapshot_epochs() %}
select product_id, snapshot_at_epoch, count(*) as reads
from {{ ref('stg_landing__inventory_snapshots') }}
where snapshot_at_epoch = {{ instants[-1] if instants else -1 }}
group by product_id, snapshot_at_epoch
having count(*) > 1
