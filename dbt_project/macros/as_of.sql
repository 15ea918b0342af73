{#- The refresh instant T, rendered as literals so that SQL never reads the wall clock and
    every refresh can be re-run with the same result.

    The orchestrator passes T in the environment variable STOCKOUT_AS_OF (ISO-8601), read
    only when dbt executes: the parser never sees it, so a new T every hour does not make dbt
    re-parse the whole project (a changed --vars does). The dbt var `as_of` wins when given,
    as unit tests and hand-run `dbt build --vars '{as_of: ...}'` do. -#}

{% macro as_of_datetime() -%}
    {%- set raw = var('as_of', none) -%}
    {%- if (raw is none or raw == '') and execute -%}
        {%- set raw = env_var('STOCKOUT_AS_OF', '') -%}
    {%- endif -%}
    {%- if raw is none or raw == '' -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error("T is not set: set STOCKOUT_AS_OF=2026-01-31T00:00:00Z or pass --vars '{as_of: 2026-01-31T00:00:00Z}' (stockout refresh sets it for you)") }}
        {%- endif -%}
        {%- set raw = '1970-01-01T00:00:00+00:00' -%}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime.fromisoformat(raw | string | replace('Z', '+00:00')) -%}
    {%- if parsed.tzinfo is none -%}
        {%- set parsed = parsed.replace(tzinfo=modules.pytz.utc) -%}
    {%- endif -%}
    {{- return(parsed.astimezone(modules.pytz.utc)) -}}
{%- endmacro %}

{#- T as whole Unix seconds (events are stamped in whole seconds). -#}
{% macro as_of_epoch() -%}
    {{- return(as_of_datetime().timestamp() | int) -}}
{%- endmacro %}

{#- T as a SQL timestamp literal (UTC, without time zone). -#}
{% macro as_of_timestamp() -%}
    cast('{{ as_of_datetime().strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}
