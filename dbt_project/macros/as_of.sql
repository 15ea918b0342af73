{#- The refresh instant T. Passed by the orchestrator as the dbt var `as_of` (ISO-8601);
    rendered as literals so that SQL never reads the wall clock and every refresh can be
    re-run with the same result. -#}

{% macro as_of_datetime() -%}
    {%- set raw = var('as_of', none) -%}
    {%- if raw is none or raw == '' -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error("dbt var 'as_of' is not set: pass --vars '{as_of: 2026-01-31T00:00:00Z}' (stockout refresh sets it for you)") }}
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
