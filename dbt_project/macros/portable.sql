{#- Engine-specific expressions live behind adapter.dispatch so the project can move to
    another engine by adding one implementation per macro. -#}

{#- Unix seconds (integer) -> timestamp without time zone, in UTC. -#}
{% macro epoch_to_timestamp(epoch_seconds) -%}
    {{ return(adapter.dispatch('epoch_to_timestamp', 'stockout')(epoch_seconds)) }}
{%- endmacro %}

{% macro default__epoch_to_timestamp(epoch_seconds) -%}
    (timestamp '1970-01-01 00:00:00' + cast({{ epoch_seconds }} as bigint) * interval '1 second')
{%- endmacro %}

{% macro duckdb__epoch_to_timestamp(epoch_seconds) -%}
    make_timestamp(cast({{ epoch_seconds }} as bigint) * 1000000)
{%- endmacro %}

{#- ln Γ(x), for probability mass functions. -#}
{% macro log_gamma(x) -%}
    {{ return(adapter.dispatch('log_gamma', 'stockout')(x)) }}
{%- endmacro %}

{% macro default__log_gamma(x) -%}
    lgamma({{ x }})
{%- endmacro %}

{#- One output row per integer in [lo, hi] for each input row, as a column expression. -#}
{% macro unnest_integer_range(lo, hi) -%}
    {{ return(adapter.dispatch('unnest_integer_range', 'stockout')(lo, hi)) }}
{%- endmacro %}

{% macro default__unnest_integer_range(lo, hi) -%}
    unnest(generate_series(cast({{ lo }} as bigint), cast({{ hi }} as bigint)))
{%- endmacro %}
