{#- Generic test: `expression` holds on every row (no dbt_utils: packages cannot be
    downloaded here). Fails with the rows where it does not. -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
