{#- Bookkeeping of the incremental models (DESIGN.md: a refresh costs what the new data
    costs). Each dbt run that loads landed files gets a load id, one higher than the last;
    `intermediate.loaded_landing_files` says which file went in with which load, and
    `intermediate.incremental_progress` how far each downstream incremental model got. Both
    are written in the same transaction as the model they describe, so a killed run leaves
    them consistent with the data and the next run carries on from there. -#}

{% macro create_incremental_bookkeeping() -%}
    create schema if not exists intermediate;
    create table if not exists intermediate.loaded_landing_files (
        landed_file varchar, load_id bigint, loaded_at timestamp
    );
    {#- the dbt invocation that took each file (warehouses built before it have the column added) -#}
    alter table intermediate.loaded_landing_files add column if not exists invocation_id varchar;
    create table if not exists intermediate.incremental_progress (
        model_name varchar, load_id bigint, recorded_at timestamp
    );
    create table if not exists intermediate.input_fingerprints (
        model_name varchar, fingerprint varchar, recorded_at timestamp
    );
    {#- whether an inventory read holds every catalogue product (any_product_missing_from_read) -#}
    create table if not exists intermediate.read_coverage (
        coverage_key varchar, missing_products bigint, recorded_at timestamp
    );
    create table if not exists intermediate.product_refresh_state (
        model_name varchar, as_of_epoch bigint, load_id bigint, fingerprint varchar, scope varchar,
        baseline_as_of_epoch bigint, baseline_load_id bigint, recorded_at timestamp
    );
    {#- folded into int_product_risk_assessed: a warehouse built before drops its table and record -#}
    drop table if exists intermediate.int_stockout_probabilities_computed;
    delete from intermediate.product_refresh_state where model_name = 'int_stockout_probabilities_computed'
{%- endmacro %}

{#- The first column of a query's rows, at compile time (an empty list when parsing). -#}
{% macro query_column(sql) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}

{#- Landed Parquet files of the given folders under landing/ that no load has taken yet
    (all of them on a full refresh). -#}
{% macro unloaded_landing_files(folders, full_refresh) -%}
    {%- set globs = [] -%}
    {%- for folder in folders -%}
        {%- do globs.append("select file from glob('" ~ env_var('STOCKOUT_DATA_DIR', '../data') ~ "/landing/" ~ folder ~ "/*.parquet')") -%}
    {%- endfor -%}
    {%- set sql -%}
        select file from ({{ globs | join(' union all ') }})
        {% if not full_refresh %}
        where file not in (select landed_file from intermediate.loaded_landing_files)
        {% endif %}
        order by file
    {%- endset -%}
    {{ return(query_column(sql)) }}
{%- endmacro %}

{#- The lowest and highest id in the given landed files, [0, -1] when there are none: bounds
    that let DuckDB skip, by their min/max statistics, the stored rows that cannot match. -#}
{% macro landed_id_range(files) -%}
    {%- if not execute or not files -%}{{ return([0, -1]) }}{%- endif -%}
    {%- set row = run_query("select coalesce(min(id), 0), coalesce(max(id), -1) from read_parquet(["
        ~ quoted_list(files) ~ "])").rows[0] -%}
    {{ return([row[0] | int, row[1] | int]) }}
{%- endmacro %}

{#- Of the given landed files, those that may hold an id another of them holds. Landing names
    a source delivery after the id range it read, changes_<from>_<to> (the sales and the
    restocks file of a delivery share the name), and never lands an id twice: it quarantines
    an id it landed before. So two such deliveries share no id unless their ranges overlap.
    Other files (inbox files, `_late` deliveries, files put into landing/ by other means) may
    hold any id: they, and the deliveries whose range their ids reach, are the files worth
    searching for repeated ids, which keeps that search away from the bulk of the history. -#}
{% macro files_that_may_repeat_ids(files) -%}
    {%- if not execute or not files -%}{{ return([]) }}{%- endif -%}
    {%- set delivery_name = modules.re.compile('^changes_([0-9]{12})_([0-9]{12})[.]parquet$') -%}
    {%- set ranges = {} -%}
    {%- set others = [] -%}
    {%- for file in files -%}
        {%- set match = delivery_name.match(file.split('/')[-1]) -%}
        {%- if match -%}
            {%- do ranges.setdefault((match.group(1) | int, match.group(2) | int), []).append(file) -%}
        {%- else -%}
            {%- do others.append(file) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set spans = [] -%}
    {%- if others -%}
        {%- set sql = "select min(id), max(id) from read_parquet([" ~ quoted_list(others)
            ~ "], filename = true) group by filename" -%}
        {%- for row in run_query(sql).rows if row[0] is not none -%}
            {%- do spans.append((row[0] | int, row[1] | int)) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set suspects = others[:] -%}
    {%- set state = {'highest': -1} -%}
    {%- set sorted_ranges = ranges | list | sort -%}
    {%- for low, high in sorted_ranges -%}
        {%- set overlaps_previous = low <= state.highest -%}
        {%- set overlaps_next = not loop.last and sorted_ranges[loop.index][0] <= high -%}
        {%- set reached = spans | selectattr(0, 'le', high) | selectattr(1, 'ge', low) | list -%}
        {%- if overlaps_previous or overlaps_next or reached -%}
            {%- do suspects.extend(ranges[(low, high)]) -%}
        {%- endif -%}
        {%- do state.update({'highest': [state.highest, high] | max}) -%}
    {%- endfor -%}
    {{ return(suspects) }}
{%- endmacro %}

{#- The load id of this run: one more than any recorded. -#}
{% macro next_load_id() -%}
    {%- set ids = query_column("select coalesce(max(load_id), 0) + 1 from intermediate.loaded_landing_files") -%}
    {{ return((ids or [1])[0] | int) }}
{%- endmacro %}

{#- The newest load id recorded so far (0 when none). -#}
{% macro newest_load_id() -%}
    {%- set ids = query_column("select coalesce(max(load_id), 0) from intermediate.loaded_landing_files") -%}
    {{ return((ids or [0])[0] | int) }}
{%- endmacro %}

{#- The newest load a model has processed (0 when it never ran incrementally). -#}
{% macro processed_load_id(model_name) -%}
    {%- set ids = query_column("select coalesce(max(load_id), 0) from intermediate.incremental_progress where model_name = '" ~ model_name ~ "'") -%}
    {{ return((ids or [0])[0] | int) }}
{%- endmacro %}

{#- Post-hook: the model has processed every load up to `load_id`. -#}
{% macro record_progress(load_id) -%}
    {%- if not is_incremental() -%}
    delete from intermediate.incremental_progress where model_name = '{{ this.name }}';
    {%- endif %}
    insert into intermediate.incremental_progress values ('{{ this.name }}', {{ load_id }}, current_timestamp)
{%- endmacro %}

{#- The end of the hour an event falls in, hours being right-closed like the day slices:
    (e - 3600, e]. -#}
{% macro hour_end_epoch(epoch_seconds) -%}
    (({{ epoch_seconds }} + 3599) // 3600) * 3600
{%- endmacro %}

{#- The instants of the landed inventory snapshots, ascending, read from the Parquet
    footers (each file holds one read of the inventory service). -#}
{% macro landed_snapshot_epochs() -%}
    {%- set sql -%}
        select distinct cast(stats_min_value as bigint) as snapshot_at_epoch
        from parquet_metadata('{{ env_var('STOCKOUT_DATA_DIR', '../data') }}/landing/inventory_snapshots/*.parquet')
        where path_in_schema = 'snapshot_at' and stats_min_value is not null
        order by 1
    {%- endset -%}
    {%- set files = query_column("select count(*) from glob('" ~ env_var('STOCKOUT_DATA_DIR', '../data') ~ "/landing/inventory_snapshots/*.parquet')") -%}
    {%- if not files or files[0] == 0 -%}{{ return([]) }}{%- endif -%}
    {{ return(query_column(sql) | map('int') | list) }}
{%- endmacro %}

{#- A SQL list of string literals (NULL when empty, so that `x in (...)` holds for none). -#}
{% macro quoted_list(values) -%}
    {%- if values | length == 0 -%}null{%- else -%}
    {%- for value in values -%}'{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of int_inventory_movements: the files this load read, even those whose every
    row was a re-delivery (so they are not read again). -#}
{% macro record_loaded_files() -%}
    {%- set load_id = next_load_id() -%}
    {%- if not is_incremental() -%}
    delete from intermediate.loaded_landing_files;
    delete from intermediate.incremental_progress;
    delete from intermediate.product_refresh_state;
    {%- endif %}
    insert into intermediate.loaded_landing_files (landed_file, load_id, loaded_at, invocation_id)
    select file, {{ load_id }}, current_timestamp, '{{ invocation_id }}'
    from (values {% for file in unloaded_landing_files(['sales', 'restocks'], not is_incremental()) %}('{{ file | replace("'", "''") }}'){{ ", " if not loop.last }}{% else %}(null){% endfor %}) as files(file)
    where file is not null
{%- endmacro %}

{#- Post-hook of int_inventory_snapshots_reconciled: the newest snapshot instant reconciled. -#}
{% macro record_reconciled_snapshot() -%}
    {%- set instants = landed_snapshot_epochs() -%}
    {%- if not is_incremental() -%}
    delete from intermediate.incremental_progress where model_name = '{{ this.name }}.snapshot_at_epoch';
    {%- endif %}
    insert into intermediate.incremental_progress
    values ('{{ this.name }}.snapshot_at_epoch', {{ instants[-1] if instants else 0 }}, current_timestamp)
{%- endmacro %}

{#- The snapshot instants int_inventory_snapshots_reconciled must (re)compute: all but the
    first on a full refresh; otherwise those landed since its last run, and older ones whose
    interval received a movement in a load it has not processed (a late event). -#}
{% macro snapshots_to_reconcile(instants) -%}
    {% set to_reconcile = [] %}
    {% if not is_incremental() %}
        {% do to_reconcile.extend(instants[1:]) %}
    {% elif instants | length > 1 %}
        {% set reconciled_up_to = processed_load_id(this.name ~ '.snapshot_at_epoch') %}
        {% set last_load = processed_load_id(this.name) %}
        {% set late_sql %}
            select distinct intervals.snapshot_at_epoch
            from (values {% for i in range(1, instants | length) %}({{ instants[i - 1] }}, {{ instants[i] }}){{ ", " if not loop.last }}{% endfor %})
                as intervals(previous_epoch, snapshot_at_epoch)
            inner join {{ ref('int_inventory_movements') }} as movements
                on movements.occurred_at_epoch > intervals.previous_epoch
                and movements.occurred_at_epoch <= intervals.snapshot_at_epoch
            where movements.load_id > {{ last_load }}
              and intervals.snapshot_at_epoch <= {{ reconciled_up_to }}
        {% endset %}
        {% set late = query_column(late_sql) | map('int') | list %}
        {% for instant in instants[1:] %}
            {% if instant > reconciled_up_to or instant in late %}{% do to_reconcile.append(instant) %}{% endif %}
        {% endfor %}
    {% endif %}
    {{ return(to_reconcile) }}
{%- endmacro %}

{#- Pre-hook of int_inventory_snapshots_reconciled: drop the rows about to be recomputed. -#}
{% macro forget_snapshots_to_reconcile() -%}
    {%- if is_incremental() -%}
    {%- set to_reconcile = snapshots_to_reconcile(landed_snapshot_epochs()) -%}
    delete from {{ this }} where snapshot_at_epoch in ({{ to_reconcile | join(', ') if to_reconcile else 'null' }})
    {%- endif -%}
{%- endmacro %}

{#- The landed catalogue's fingerprint: each file's name and the hash of its rows that
    landing writes into its metadata (orchestration/landing.py, CONTENT_HASH_KEY). NULL when
    a file lacks the hash, so that such a catalogue always counts as changed. -#}
{% macro catalogue_fingerprint() -%}
    {%- set landing = env_var('STOCKOUT_DATA_DIR', '../data') ~ "/landing" -%}
    {%- set files = query_column("select file from glob('" ~ landing ~ "/products/*.parquet') union all "
        ~ "select file from glob('" ~ landing ~ "/suppliers/*.parquet') order by file") -%}
    {%- if not files -%}{{ return(none) }}{%- endif -%}
    {%- set sql -%}
        select file_name, decode(value)
        from parquet_kv_metadata([{{ quoted_list(files) }}])
        where decode(key) = 'content_sha256'
        order by file_name
    {%- endset -%}
    {%- set hashes = run_query(sql).rows -%}
    {%- if hashes | length != files | length -%}{{ return(none) }}{%- endif -%}
    {%- set parts = [] -%}
    {%- for row in hashes -%}{%- do parts.append(row[0] ~ '=' ~ row[1]) -%}{%- endfor -%}
    {{ return(parts | join(',')) }}
{%- endmacro %}

{#- Whether the landed catalogue differs from the one the model was last built from. -#}
{% macro catalogue_changed() -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set current = catalogue_fingerprint() -%}
    {%- set recorded = query_column("select fingerprint from intermediate.input_fingerprints where model_name = '"
        ~ this.name ~ "'") -%}
    {{ return(current is none or not recorded or recorded[0] != current) }}
{%- endmacro %}

{#- Pre-hook of int_products_enriched: a changed catalogue replaces every row. -#}
{% macro forget_catalogue_if_changed() -%}
    {%- if is_incremental() and catalogue_changed() -%}
    delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of int_products_enriched: the catalogue it was built from, when it was built. -#}
{% macro record_catalogue_fingerprint() -%}
    {%- if is_incremental() and not catalogue_changed() -%}{{ return('') }}{%- endif -%}
    {%- set current = catalogue_fingerprint() -%}
    delete from intermediate.input_fingerprints where model_name = '{{ this.name }}';
    insert into intermediate.input_fingerprints
    values ('{{ this.name }}', {{ "'" ~ (current | replace("'", "''")) ~ "'" if current is not none else 'null' }}, current_timestamp)
{%- endmacro %}

{#- Whether some catalogue product is missing from the inventory read at `read_epoch` (true
    when not executing, so that parsing sees every branch). A landed read never changes, so
    the answer for the whole catalogue is kept per read and catalogue
    (intermediate.read_coverage) the first time it is computed: a read that holds every
    catalogue product holds every product this run recomputes, and later refreshes skip the
    search (0.9 s of each hourly refresh at the benchmark tier, for its listed products).
    When the read lacks some catalogue product, only the products this run recomputes are
    looked for (with `some`). -#}
{% macro any_product_missing_from_read(read_epoch, some) -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {#- the table comes with a build's on-run-start hook; `dbt docs generate` on a warehouse
        built before it compiles without the cache -#}
    {%- set kept = query_column("select count(*) from duckdb_tables() where schema_name = 'intermediate' "
        ~ "and table_name = 'read_coverage'") -%}
    {%- set catalogue = catalogue_fingerprint() if kept[0] > 0 else none -%}
    {%- set key = (read_epoch ~ ' ' ~ catalogue) | replace("'", "''") if catalogue is not none else none -%}
    {%- set known = query_column("select missing_products from intermediate.read_coverage where coverage_key = '"
        ~ key ~ "'") if key is not none else [] -%}
    {%- if known and known[0] | int == 0 -%}{{ return(false) }}{%- endif -%}
    {%- set whole_catalogue = not known and key is not none -%}
    {%- set missing = query_column(
        "select count(*) from " ~ ref('int_products_enriched') ~ " as products where not exists ("
        ~ "select 1 from " ~ ref('stg_landing__inventory_snapshots') ~ " as snapshots "
        ~ "where snapshots.snapshot_at_epoch = " ~ read_epoch ~ " and snapshots.product_id = products.product_id)"
        ~ " and " ~ is_product_to_refresh('products.product_id', some and not whole_catalogue)
    ) | map('int') | list -%}
    {%- if whole_catalogue -%}
        {%- do run_query("insert into intermediate.read_coverage values ('" ~ key ~ "', "
            ~ missing[0] ~ ", current_timestamp)") -%}
    {%- endif -%}
    {{ return(missing[0] > 0) }}
{%- endmacro %}
