-- Every stock movement as one signed stream (restocks add, sales remove), counted once per
-- source id. Incremental: a run reads only the landed files no earlier load took (DuckDB
-- skips the others by name) and appends the movements whose id is new, so its cost follows
-- the new data, not the history. A late event (new file, old timestamp) is appended like
-- any other and the downstream aggregates recompute the hours it falls in; the same id
-- landed again (a re-delivery) is dropped. `dbt build --full-refresh` rebuilds it from all
-- landed files with the same rows.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        post_hook=["{{ record_loaded_files() }}"],
    )
}}
{% set full_refresh = not is_incremental() %}
{% set load_id = next_load_id() %}
{% set new_files = unloaded_landing_files(['sales', 'restocks'], full_refresh) %}
{% set new_ids = landed_id_range(new_files) if not full_refresh else [0, -1] %}  {# only the incremental check uses them #}
{% set may_repeat_ids = files_that_may_repeat_ids(new_files) %}

with sales as (
    select
        sale_id as movement_id,
        product_id,
        'sale' as movement_type,
        quantity,
        -quantity as signed_quantity,
        sold_at_epoch as occurred_at_epoch,
        landed_file
    from {{ ref('stg_landing__sales') }}
    {% if not full_refresh %}
    where landed_file in ({{ quoted_list(new_files) }})
    {% endif %}
),

restocks as (
    select
        restock_id as movement_id,
        product_id,
        'restock' as movement_type,
        quantity,
        quantity as signed_quantity,
        restocked_at_epoch as occurred_at_epoch,
        landed_file
    from {{ ref('stg_landing__restocks') }}
    {% if not full_refresh %}
    where landed_file in ({{ quoted_list(new_files) }})
    {% endif %}
),

unioned as not materialized (
    select * from sales
    union all
    select * from restocks
),

repeated_ids as (
    -- ids landed more than once, in one file or two. Searched for only in the files that can
    -- repeat one (macros/incremental.sql): at the benchmark tier, a search through all 450 M
    -- rows of a full rebuild spilled tens of gigabytes to disk.
    select movement_id
    from unioned
    where landed_file in ({{ quoted_list(may_repeat_ids) }})
    group by movement_id
    having count(*) > 1
),

first_deliveries as (
    select movement_id, product_id, movement_type, quantity, signed_quantity, occurred_at_epoch, landed_file
    from unioned
    where not exists (select 1 from repeated_ids where repeated_ids.movement_id = unioned.movement_id)

    union all

    -- a repeated id counts once: the first landing wins
    select movement_id, product_id, movement_type, quantity, signed_quantity, occurred_at_epoch, landed_file
    from (
        select
            *,
            row_number() over (
                partition by movement_id order by landed_file, occurred_at_epoch, product_id
            ) as delivery_number
        from unioned
        where movement_id in (select movement_id from repeated_ids)
    ) as repeated
    where delivery_number = 1
)

select
    movement_id,
    product_id,
    movement_type,
    quantity,
    signed_quantity,
    occurred_at_epoch,
    landed_file,
    cast({{ load_id }} as bigint) as load_id
from first_deliveries
{% if not full_refresh %}
where not exists (
    -- only stored rows within the new ids' range can match: the others are skipped by their
    -- row groups' statistics, so the check does not read the whole history
    select 1 from {{ this }} as loaded
    where loaded.movement_id = first_deliveries.movement_id
      and loaded.movement_id between {{ new_ids[0] }} and {{ new_ids[1] }}
)
-- a load in time order, so that row groups' min/max statistics let readers of a time range
-- skip the rest (a full rebuild reads the files, each in time order, in name order instead:
-- sorting the whole history would spill tens of gigabytes at the benchmark tier)
order by occurred_at_epoch, movement_id
{% endif %}
