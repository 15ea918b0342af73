{#- The day slices of DESIGN.md §4: slice k is (T - (k+1)*24h, T - k*24h], k = 0 is the
    newest. An event at exactly T is in slice 0; one at exactly T - 7 days is in slice 7,
    outside a 7-day window. `as_of` (Unix seconds) slices at another T than this run's. -#}
{% macro day_slice_index(epoch_seconds, as_of=none) -%}
    cast(floor(({{ as_of_epoch() if as_of is none else as_of }} - {{ epoch_seconds }}) / 86400.0) as integer)
{%- endmacro %}
