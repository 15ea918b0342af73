{#- Per-product refreshes of the window and risk models (DESIGN.md: a refresh costs what the
    new data costs, not what the catalogue holds).

    When T moves forward by less than a day, a product's day slices, stock, demand and risk
    measures stay what they were unless something happened to it in one of the stretches
    the slice boundaries swept over: (T_prev - k days, T - k days] for k = 0..28 (k = 0 is
    the new stretch up to T, k = 28 the stretch leaving the window). Every other product
    keeps its rows, which are exactly what a rebuild at T would compute; only the columns
    that hold T itself (as_of, projected_stockout_date, the rank among the at-risk products)
    are computed afresh downstream, for every product.

    `int_products_to_refresh` lists the products to recompute: those with a movement in the
    swept stretches, and those with a movement in a load the models have not taken yet (a
    late event lands in a new load whatever its timestamp). The per-product models
    (models/intermediate/per_product/) delete those products' rows and insert them again. They all
    recompute every product instead ("all") when they cannot tell what changed: on their
    first run or a --full-refresh, when T moved backwards or by a day or more, when a landed
    inventory read or the catalogue changed, when a risk setting (dbt var) or one of these
    models' SQL changed, and when some model of the chain is missing its record (a run
    killed half-way, or a model run on its own). A model whose rows are UTC calendar days
    (meta rows_hold_the_utc_day) also recomputes them all at the first refresh of a new day.
    A model whose rows do not move with every slice boundary recomputes fewer of the listed
    products (meta recomputes_only, a column of int_products_to_refresh): on_hand at T and
    the product days only those that moved since the baseline (a new load or the newest
    stretch; at the benchmark tier with 90 days of history, 73 thousand of the 1.2 million
    listed), the window's movements only those and the ones with a movement leaving the
    window.
    Each model records, in the same transaction as its rows, the T and load it is now up to
    date with (`intermediate.product_refresh_state`), so a killed run leaves every model
    either at its old state or at the new one, and the next run starts from the oldest. -#}

{#- The models kept per product: those under models/intermediate/per_product/. -#}
{% macro product_refresh_models() -%}
    {%- set names = [] -%}
    {%- if not execute -%}{{ return(names) }}{%- endif -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and 'per_product' in node.fqn -%}
        {%- do names.append(node.name) -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}

{#- Everything besides the movements that the per-product rows depend on: the risk settings,
    the landed inventory reads, the landed catalogue and the SQL of the per-product models.
    A change to any of them makes every product's rows stale. -#}
{% macro product_refresh_fingerprint() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set parts = [] -%}
    {%- for name in ['horizon_days', 'stockout_threshold', 'reorder_factor', 'service_level', 'smoothing_factor'] -%}
        {%- do parts.append(name ~ '=' ~ var(name)) -%}
    {%- endfor -%}
    {%- do parts.append('reads=' ~ (landed_snapshot_epochs() | join(' '))) -%}
    {%- do parts.append('catalogue=' ~ catalogue_fingerprint()) -%}
    {%- set models = product_refresh_models() + ['int_products_to_refresh'] -%}
    {%- for node in graph.nodes.values() | sort(attribute='name') if node.resource_type == 'model' and node.name in models -%}
        {%- do parts.append(node.name ~ '=' ~ node.checksum.checksum) -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join(';'))) }}
{%- endmacro %}

{#- What each per-product model last recorded: {model name: row}. -#}
{% macro product_refresh_records() -%}
    {%- set records = {} -%}
    {%- if execute -%}
        {%- set result = run_query("select model_name, as_of_epoch, load_id, fingerprint, scope, "
            ~ "baseline_as_of_epoch, baseline_load_id from intermediate.product_refresh_state") -%}
        {%- for row in result.rows -%}
            {%- do records.update({row[0]: {
                'as_of_epoch': row[1] | int, 'load_id': row[2] | int, 'fingerprint': row[3], 'scope': row[4],
                'baseline_as_of_epoch': row[5], 'baseline_load_id': row[6]}}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(records) }}
{%- endmacro %}

{#- The state every per-product model is at least up to date with, {as_of_epoch, load_id},
    or none when some product may have changed in a way the swept stretches do not show. -#}
{% macro product_refresh_baseline() -%}
    {%- if not execute or flags.FULL_REFRESH -%}{{ return(none) }}{%- endif -%}
    {%- set T = as_of_epoch() -%}
    {%- set records = product_refresh_records() -%}
    {%- set fingerprint = product_refresh_fingerprint() -%}
    {%- set newest_load = newest_load_id() -%}
    {%- set chain = [] -%}
    {%- for name in product_refresh_models() -%}
        {%- set record = records.get(name) -%}
        {%- if record is none or record.fingerprint != fingerprint or record.as_of_epoch > T
            or T - record.as_of_epoch >= 86400 or record.load_id > newest_load -%}
            {{ return(none) }}
        {%- endif -%}
        {%- do chain.append(record) -%}
    {%- endfor -%}
    {%- set baseline = {
        'as_of_epoch': chain | map(attribute='as_of_epoch') | min,
        'load_id': chain | map(attribute='load_id') | min} -%}
    {#- an inventory read in a swept stretch moves every product's anchor or shrinkage slice -#}
    {%- for instant in landed_snapshot_epochs() -%}
        {%- for k in range(29) -%}
            {%- if instant > baseline.as_of_epoch - k * 86400 and instant <= T - k * 86400 -%}
                {{ return(none) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(baseline) }}
{%- endmacro %}

{#- The stretches the slice boundaries swept over since `from_epoch`, as hours of
    int_product_hourly_movements: [first hour end, last hour end] for k = 0..28, each hour
    (e - 3600, e] that meets (from_epoch - k days, T - k days]. -#}
{% macro swept_hour_ranges(from_epoch) -%}
    {%- set T = as_of_epoch() -%}
    {%- set ranges = [] -%}
    {%- for k in range(29) -%}
        {%- set low = from_epoch - k * 86400 -%}
        {%- set high = T - k * 86400 -%}
        {%- if high > low -%}
            {%- do ranges.append(((low // 3600) * 3600 + 3600, ((high + 3599) // 3600) * 3600)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ranges) }}
{%- endmacro %}

{#- Whether int_products_to_refresh ran in this run at this T and lists products to
    recompute (scope 'some'), given its record (`listing`). -#}
{% macro listing_is_of_this_run(listing) -%}
    {%- if not execute or flags.FULL_REFRESH -%}{{ return(false) }}{%- endif -%}
    {{ return(listing is not none and listing.scope == 'some' and listing.as_of_epoch == as_of_epoch()) }}
{%- endmacro %}

{#- Whether this run recomputes only the products of int_products_to_refresh: that model ran
    in this run at this T and found a baseline this model is at least as new as. -#}
{% macro refreshes_some_products() -%}
    {#- a dbt unit test has no relation of its own (`this` is none): it computes every row -#}
    {%- if not per_product_table_exists() -%}{{ return(false) }}{%- endif -%}
    {%- set records = product_refresh_records() -%}
    {%- set listing = records.get('int_products_to_refresh') -%}
    {%- set own = records.get(this.name) -%}
    {%- if not listing_is_of_this_run(listing) or own is none -%}{{ return(false) }}{%- endif -%}
    {#- rows of calendar days (relative to T's UTC day) move for every product when the day changes -#}
    {%- if (config.get('meta') or {}).get('rows_hold_the_utc_day') and own.as_of_epoch // 86400 != as_of_epoch() // 86400 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set fingerprint = product_refresh_fingerprint() -%}
    {{ return(listing.fingerprint == fingerprint
        and own.fingerprint == fingerprint and own.as_of_epoch <= as_of_epoch()
        and listing.baseline_as_of_epoch <= own.as_of_epoch and listing.baseline_load_id <= own.load_id) }}
{%- endmacro %}

{#- int_product_day_slices, the day slices of the listed products, when this model
    recomputes those products (`some`) and this run built it; otherwise none, and the model
    walks the slices itself (the table lives in memory for one dbt run: a model run on its
    own does not find it). -#}
{% macro listed_day_slices(some) -%}
    {#- the ref makes dbt run int_product_day_slices first; a unit test (no `this`) has no use for it -#}
    {%- set slices = ref('int_product_day_slices') if this is not none else none -%}
    {%- if not some or slices is none -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_relation(slices.database, slices.schema, slices.identifier)) }}
{%- endmacro %}

{#- The query of the product ids this model recomputes when it recomputes some products:
    the listed ones, or those of them whose column meta recomputes_only names holds. The
    same in a model's filters, its pre-hook and its key check. -#}
{% macro products_to_refresh() -%}
    {%- set only = (config.get('meta') or {}).get('recomputes_only') -%}
    {%- if only not in [none, 'moved_since_baseline', 'moved_at_window_edges'] -%}
        {{ exceptions.raise_compiler_error(this.name ~ ": meta recomputes_only is '" ~ only
            ~ "', not a column of int_products_to_refresh (moved_since_baseline or moved_at_window_edges)") }}
    {%- endif -%}
    select product_id from {{ ref('int_products_to_refresh') }}
    {%- if only %} where {{ only }}{% endif %}
{%- endmacro %}

{#- A filter on a product id column: true for the products this run recomputes. Evaluated
    once per model (the decision must be the same in its filters and its pre-hook). -#}
{% macro is_product_to_refresh(column, some) -%}
    {#- the ref makes dbt run int_products_to_refresh first; a unit test (no `this`) has no use for it -#}
    {%- set listing = ref('int_products_to_refresh') if this is not none else none -%}
    {%- if some -%}
        {{ column }} in ({{ products_to_refresh() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Whether this per-product model's table exists and this run may keep some of its rows (not a
    --full-refresh): dbt's is_incremental() answers for the incremental materialization alone
    (macros/per_product_materialization.sql is not it). -#}
{% macro per_product_table_exists() -%}
    {%- if not execute or this is none or should_full_refresh() -%}{{ return(false) }}{%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {{ return(relation is not none and relation.is_table) }}
{%- endmacro %}

{#- Post-hook of a per-product model with meta `one_row_per` (its key columns): fail when a
    key holds more than one row, before anything of this run is committed, so the table never
    holds a repeated key. A run that recomputed some products looks at their rows only: the
    others' were looked at when they were written. This replaces a `unique` data test, which
    would read every row at every refresh (about 2 s per table at the benchmark tier). -#}
{% macro assert_one_row_per_key() -%}
    {%- set key = (config.get('meta') or {}).get('one_row_per') if execute else none -%}
    {%- if key -%}
    select error('{{ this.schema }}.{{ this.identifier }} holds ' || occurrences || ' rows for {{ key | join(", ") }} = '
        || {% for column in key %}cast({{ column }} as varchar){{ " || ', ' || " if not loop.last }}{% endfor %}
        || ': its SQL must give one row per key (see the model and macros/product_refresh.sql)')
    from (
        select {{ key | join(', ') }}, count(*) as occurrences
        from {{ this }}
        {%- if refreshes_some_products() %}
        where product_id in ({{ products_to_refresh() }})
        {%- endif %}
        group by {{ key | join(', ') }}
        having count(*) > 1
        limit 1
    ) as repeated
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of a per-product model (and of int_products_to_refresh): the T and load its
    rows are now up to date with, the inputs they were computed from, and how. -#}
{% macro record_product_refresh(scope, baseline=none) -%}
    delete from intermediate.product_refresh_state where model_name = '{{ this.name }}';
    insert into intermediate.product_refresh_state values (
        '{{ this.name }}', {{ as_of_epoch() }}, {{ newest_load_id() }}, '{{ product_refresh_fingerprint() }}',
        '{{ scope }}', {{ baseline.as_of_epoch if baseline else 'null' }}, {{ baseline.load_id if baseline else 'null' }},
        current_timestamp
    )
{%- endmacro %}
