{#- The day slices of DESIGN.md §4: slice k is (T - (k+1)*24h, T - k*24h], k = 0 is the
    newest. An event at exactly T is in slice 0; one at exactly T - 7 days is in slice 7,
    outside a 7-day window. -#}
{% macro day_slice_index(epoch_seconds) -%}
    cast(floor(({{ as_of_epoch() }} - {{ epoch_seconds }}) / 86400.0) as integer)
{%- endmacro %}

{#- The instants at which stock is reconstructed, as a VALUES list of (point_kind, point_index,
    at_epoch): every slice boundary T - j*24h (j = 0..28) and, for each of the 28 UTC calendar
    days up to T, the instant just before it started and its last instant (capped at T). -#}
{% macro stock_probe_points(window_days=28) -%}
    {%- set T = as_of_epoch() -%}
    {%- set today_start = (T // 86400) * 86400 -%}
    {%- set rows = [] -%}
    {%- for j in range(window_days + 1) -%}
        {%- do rows.append("('slice_boundary', " ~ j ~ ", " ~ (T - j * 86400) ~ ")") -%}
    {%- endfor -%}
    {%- for i in range(window_days) -%}
        {%- set day_start = today_start - i * 86400 -%}
        {%- do rows.append("('day_start', " ~ i ~ ", " ~ (day_start - 1) ~ ")") -%}
        {%- do rows.append("('day_end', " ~ i ~ ", " ~ ([day_start + 86399, T] | min) ~ ")") -%}
    {%- endfor -%}
    select * from (values {{ rows | join(', ') }}) as probe_points(point_kind, point_index, at_epoch)
{%- endmacro %}
