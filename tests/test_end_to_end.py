"""`stockout simulate` + `stockout refresh` as a user runs them, then an analyst's process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import SIM_END_ISO, run_cli


def test_simulate_refresh_and_read_from_another_process(data_dir) -> None:
    simulated = run_cli(
        "simulate", "--products", "80", "--sales-per-day", "150", "--days", "35", "--end", SIM_END_ISO
    )
    assert simulated.returncode == 0, simulated.stderr
    assert "simulated 80 products" in simulated.stdout

    refreshed = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    summary = refreshed.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"refresh as_of={SIM_END_ISO} ok")
    assert "products at risk" in summary

    mart = data_dir / "mart" / "analytics.duckdb"
    analyst = textwrap.dedent(
        f"""
        import duckdb
        with duckdb.connect({str(mart)!r}, read_only=True) as con:
            rows = con.execute("select product_id, risk_rank from at_risk_in_a_week order by risk_rank").fetchall()
            flagged = con.execute("select count(*) from days_to_stockout where is_at_risk").fetchone()[0]
            as_ofs = con.execute("select distinct as_of from at_risk_in_a_week").fetchall()
        assert rows and len(rows) == flagged, (rows, flagged)
        assert [rank for _, rank in rows] == list(range(1, len(rows) + 1))
        print(len(rows), as_ofs[0][0])
        """
    )
    reader = subprocess.run([sys.executable, "-c", analyst], capture_output=True, text=True, timeout=60)
    assert reader.returncode == 0, reader.stderr
    count, as_of = reader.stdout.split(maxsplit=1)
    assert int(count) > 0 and as_of.strip() == "2026-11-21 12:00:00"

    shown = run_cli("at-risk", "--top", "5")
    assert shown.returncode == 0, shown.stderr
    assert f"{count} products at risk" in shown.stdout
    assert str(mart) in shown.stdout


def test_refresh_failure_exits_non_zero_naming_the_step_and_file(data_dir) -> None:
    refreshed = run_cli("refresh", "--as-of", SIM_END_ISO)
    assert refreshed.returncode == 1
    assert "FAILED" in refreshed.stdout
    assert "sources/" in refreshed.stdout and ".sqlite" in refreshed.stdout
    assert "stockout simulate" in refreshed.stdout
    assert not (data_dir / "mart" / "analytics.duckdb").exists()


def test_bad_instant_is_a_usage_error(data_dir) -> None:
    refreshed = run_cli("refresh", "--as-of", "next tuesday")
    assert refreshed.returncode == 2
    assert "next tuesday" in refreshed.stderr


def test_at_risk_before_any_refresh_says_what_to_do(data_dir) -> None:
    shown = run_cli("at-risk")
    assert shown.returncode == 1
    assert "stockout refresh" in shown.stderr


def test_docs_describe_every_published_column(small_shop) -> None:
    import json

    from orchestration.publish import PUBLISHED_RELATIONS

    assert run_cli("refresh", "--as-of", SIM_END_ISO).returncode == 0
    generated = run_cli("docs", "--no-serve")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    docs = small_shop / "dbt_docs"
    assert (docs / "index.html").exists()
    catalog = json.loads((docs / "catalog.json").read_text())
    manifest = json.loads((docs / "manifest.json").read_text())
    for relation in PUBLISHED_RELATIONS:
        node = manifest["nodes"][f"model.stockout.{relation}"]
        built = catalog["nodes"][f"model.stockout.{relation}"]["columns"]
        assert set(built) == set(node["columns"]), relation
        assert all(column["description"].strip() for column in node["columns"].values()), relation
