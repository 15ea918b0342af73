{#- z such that P(Z <= z) = p for a standard normal Z (Acklam's rational approximation,
    relative error < 1.2e-9). Used to turn the service level into the safety-stock z
    (0.95 -> 1.6449). Emits plain SQL (ln, sqrt) so it stays portable. -#}
{% macro inverse_normal_cdf(p) -%}
    {%- set a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716, 2.506628277459239] -%}
    {%- set b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572] -%}
    {%- set c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] -%}
    {%- set d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] -%}
    {%- set p = p | float -%}
    {%- if p <= 0 or p >= 1 -%}
        {{ exceptions.raise_compiler_error("inverse_normal_cdf: p must be strictly between 0 and 1, got " ~ p ~ " (check the dbt var service_level)") }}
    {%- endif -%}
    {%- if p < 0.02425 or p > 0.97575 -%}
        {%- set q = "sqrt(-2 * ln(" ~ (p if p < 0.5 else 1 - p) ~ "))" -%}
        ({{ -1 if p > 0.5 else 1 }}) * (((((({{ c[0] }} * {{ q }} + {{ c[1] }}) * {{ q }} + {{ c[2] }}) * {{ q }} + {{ c[3] }}) * {{ q }} + {{ c[4] }}) * {{ q }} + {{ c[5] }})
            / (((({{ d[0] }} * {{ q }} + {{ d[1] }}) * {{ q }} + {{ d[2] }}) * {{ q }} + {{ d[3] }}) * {{ q }} + 1))
    {%- else -%}
        {%- set q = p - 0.5 -%}
        {%- set r = q * q -%}
        {{- return((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                  / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)) -}}
    {%- endif -%}
{%- endmacro %}
