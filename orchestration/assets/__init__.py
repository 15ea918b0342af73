"""Dagster assets, one module per stage: landing, dbt transformation, publishing."""
