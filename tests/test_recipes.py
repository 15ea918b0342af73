"""Every SQL recipe in the README runs against a published mart and returns rows."""

from __future__ import annotations

import re

import duckdb
from conftest import PROJECT_README, run_cli, write_small_shop

RECIPE = re.compile(r"```sql\n(.*?)```", re.DOTALL)


def test_readme_recipes_run_against_the_mart(data_dir) -> None:
    write_small_shop(data_dir, products=120, sales_per_day=300)
    for as_of in ("2026-11-20T12:00:00Z", "2026-11-21T12:00:00Z"):
        refreshed = run_cli("refresh", "--as-of", as_of)
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr

    recipes = RECIPE.findall(PROJECT_README.read_text())
    assert len(recipes) >= 6
    with duckdb.connect(str(data_dir / "mart" / "analytics.duckdb"), read_only=True) as mart:
        for recipe in recipes:
            statements = [part for part in recipe.split(";") if part.strip()]
            for statement in statements[:-1]:
                mart.execute(statement)
            rows = mart.execute(statements[-1]).fetchall()
            assert rows, f"no rows from recipe:\n{recipe}"
