-- Each snapshot of a product compared with what the previous read of the inventory service
-- and the movements between the two predict: the difference is shrinkage (loss, theft,
-- miscounts), or a surplus when positive. Only discrepancies (shrinkage <> 0) are kept; a
-- product absent from the previous read is not reconciled (it starts afresh from this one).
-- Incremental on the snapshot instant: a run reconciles the snapshots landed since the last
-- run, and again any older snapshot whose interval received a late event (its old rows are
-- deleted first, in the same transaction). Each reconciliation reads two snapshot files and
-- the movements of the interval between them, never the whole history. A run with many
-- snapshots to reconcile (a first build or a full refresh) takes them a week at a time, one
-- statement each (the post-hook inserts the weeks after the first), so its memory does not
-- grow with the history: at the benchmark tier, 89 pairs in one statement ran out of memory.
-- depends_on: {{ ref('int_inventory_movements') }}
-- depends_on: {{ ref('stg_landing__inventory_snapshots') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ forget_snapshots_to_reconcile() }}"],
        post_hook=[
            "{{ reconcile_remaining_snapshots() }}",
            "{{ record_progress(newest_load_id()) }}",
            "{{ record_reconciled_snapshot() }}",
        ],
    )
}}
{% set instants = landed_snapshot_epochs() %}
{% set to_reconcile = snapshots_to_reconcile(instants) %}

{{ reconciled_snapshots(instants, to_reconcile[:snapshot_pairs_per_statement()]) }}
