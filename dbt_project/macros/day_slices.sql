{#- The day slices of DESIGN.md §4: slice k is (T - (k+1)*24h, T - k*24h], k = 0 is the
    newest. An event at exactly T is in slice 0; one at exactly T - 7 days is in slice 7,
    outside a 7-day window. -#}
{% macro day_slice_index(epoch_seconds) -%}
    cast(floor(({{ as_of_epoch() }} - {{ epoch_seconds }}) / 86400.0) as integer)
{%- endmacro %}
