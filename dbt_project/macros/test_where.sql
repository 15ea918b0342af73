{#- The `where` config of data tests (dbt's get_where_subquery, overridden as dbt's docs
    show), with one placeholder rendered when the test runs rather than when the project is
    parsed: __loads_of_this_invocation__, the load ids this dbt invocation recorded in
    intermediate.loaded_landing_files. A test on an append-only model filtered with it looks
    at the rows appended by this run only: after a full rebuild, every row once; on a refresh
    that found no new file, none (the rows were tested when they were appended). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = where | replace('__loads_of_this_invocation__',
            "(select load_id from intermediate.loaded_landing_files where invocation_id = '" ~ invocation_id ~ "')") -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
