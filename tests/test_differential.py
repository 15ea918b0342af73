"""Differential tests: the published mart against an independent reference model (DESIGN §4).

Each case simulates a small shop into the source systems, runs a real refresh (land, dbt,
checks, publish) through the CLI in a separate process, then recomputes every measure with
tests/reference_model.py straight from the SQLite sources and the landed inventory snapshots,
and compares product by product: days_to_stockout, at_risk_in_a_week, product_velocity,
daily_product_movements, stock_events, inventory_reconciliation and at_risk_changes.

One case refreshes twice, a day apart, with a day of trading and some shrinkage written into
the sources in between (so it has two snapshots, a reconciliation with real shrinkage and a
previous refresh for at_risk_changes); its second refresh is the one compared.
"""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.reference_model import (
    compute_at_risk_changes,
    compute_daily_movements,
    compute_product_velocity,
    compute_reconciliation,
    compute_reference,
    compute_stock_events,
    load_landed_snapshots,
    load_sources,
)

SIM_END = "2026-11-21T12:00:00Z"
NEXT_DAY = "2026-11-22T12:00:00Z"


@dataclass(frozen=True)
class Case:
    name: str
    products: int
    sales_per_day: int
    days: int
    seed: int
    as_of: str                      # the refresh instant T
    now: str = SIM_END              # STOCKOUT_NOW: the instant stamped on the snapshot
    model: dict[str, float] = field(default_factory=dict)  # reference kwargs
    edges: bool = False             # add hand-placed edge-case events to the simulated shop
    # an earlier refresh at this instant (also STOCKOUT_NOW then, so it takes the first
    # snapshot); then one more day of trading and shrinkage is written into the sources
    # (_trade_one_more_day) before the compared refresh at as_of = now
    previous: str | None = None


CASES = [
    # as_of = snapshot instant: on_hand is the snapshot itself, slices reconstructed backwards.
    Case("small-at-snapshot", products=60, sales_per_day=30, days=35, seed=7, as_of=SIM_END),
    # as_of 2.5 days before the snapshot: on_hand itself is reconstructed backwards.
    Case("wide-before-snapshot", products=300, sales_per_day=400, days=45, seed=11,
         as_of="2026-11-19T00:00:00Z"),
    # an instant off any hour boundary, a few hours before the snapshot, with hand-placed
    # events on every slice boundary, at the snapshot instant, stock driven negative, and
    # invalid rows (see _inject_edge_events).
    Case("medium-odd-instant-edges", products=150, sales_per_day=120, days=40, seed=23,
         as_of="2026-11-21T07:13:29Z", edges=True),
    # non-default model settings, passed through the CLI; as_of 6 days before the snapshot.
    # This shop has a product out of stock all week (velocity_7d NULL -> velocity_28d).
    Case("settings", products=200, sales_per_day=300, days=40, seed=2, as_of="2026-11-15T12:00:00Z",
         model={"horizon": 10, "threshold": 2, "reorder_factor": 2.0, "service_level": 0.9,
                "smoothing_factor": 0.5}),
    # refresh at the simulated end (snapshot 1), one more day of movements plus shrinkage,
    # refresh a day later (snapshot 2 at T): reconciliation, shrinkage in stock and events,
    # and the at-risk list's changes between the two refreshes.
    Case("two-snapshots-shrinkage", products=120, sales_per_day=150, days=35, seed=5,
         as_of=NEXT_DAY, now=NEXT_DAY, previous=SIM_END),
]

CLI_FLAGS = {
    "horizon": "--horizon-days", "threshold": "--threshold", "reorder_factor": "--reorder-factor",
    "service_level": "--service-level", "smoothing_factor": "--smoothing-factor",
}

FLOAT_COLUMNS = [
    "on_hand", "units_sold_7d", "units_restocked_7d", "in_stock_days_7d", "velocity_7d",
    "velocity_28d", "velocity_ewma", "net_velocity_7d", "demand_rate", "trend",
    "days_to_stockout", "safety_stock", "suggested_reorder_qty", "risk_rank",
]
EXACT_COLUMNS = ["is_at_risk", "stock_status", "reorder_recommended", "projected_stockout_date"]
PROBABILITY_TOLERANCE = 0.01
REL_TOL = ABS_TOL = 1e-9
# The warehouse computes the safety-stock z with Acklam's rational approximation of the
# inverse normal CDF (dbt macro inverse_normal_cdf, relative error < 1.2e-9), the reference
# with scipy's exact norm.ppf: safety_stock may differ by that relative error, no more.
SAFETY_STOCK_REL_TOL = 2e-9


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"stockout {' '.join(args)} failed ({result.returncode}):\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )


def _inject_edge_events(transactions: Path, as_of: int, snapshot_at: int) -> None:
    """Append events a simulated shop almost never produces: movements exactly on the day
    slice boundaries T - k days (k = 0..28), at the snapshot instant, big restocks that make
    the reconstructed stock negative (out-of-stock slices, on_hand <= 0 at T, a product out
    of stock all week), and rows that must be ignored (bad type, non-positive quantity,
    unknown product). The inventory snapshot is left as simulated: it is the truth at its
    instant and everything else is reconstructed from it."""
    day = 86_400
    with sqlite3.connect(transactions) as conn:
        next_id = conn.execute("select max(id) from inventory_change").fetchone()[0] + 1
        pids = [r[0] for r in conn.execute("select id from products order by id")]

        def sold_between(lo: int, hi: int) -> dict[int, int]:
            return dict(conn.execute(
                "select pid, sum(quantity) from inventory_change where type = 'sale' "
                "and timestamp > ? and timestamp <= ? group by pid", (lo, hi)).fetchall())

        sold_7d, sold_28d = sold_between(as_of - 7 * day, as_of), sold_between(as_of - 28 * day, as_of)
        quiet_week = [p for p in pids if p not in sold_7d and p in sold_28d]
        quiet_month = [p for p in pids if p not in sold_28d]
        rows: list[tuple[int, str, int, int]] = []  # (pid, type, quantity, timestamp)
        for k in range(29):  # sale on every slice boundary, on a few products
            rows.append((pids[k % 10], "sale", 1 + k % 3, as_of - k * day))
        rows += [(pids[0], "restock", 5, as_of - 7 * day), (pids[1], "restock", 4, as_of),
                 (pids[2], "sale", 2, snapshot_at), (pids[3], "restock", 3, snapshot_at),
                 (pids[4], "sale", 1, as_of + 1), (pids[5], "sale", 2, snapshot_at + 1)]
        rows += [(pids[11], "restock", 1_000, as_of + 60),              # on_hand(T) < 0
                 (pids[12], "restock", 1_000, as_of - 3 * day - 7_200),  # slices 4..27 out of stock
                 (pids[13], "restock", 1_000, as_of - 8 * day)]          # only the 28d window hit
        for p in (quiet_week[:2] + quiet_month[:2]):  # out of stock at every slice start
            rows.append((p, "restock", 10_000, as_of - 1))
        bad = [(pids[20], "return", 5, as_of - day), (pids[20], "sale", 0, as_of - day),
               (pids[21], "sale", -4, as_of - 2 * day), (pids[21], "restock", -50, as_of - 2 * day),
               (999_999_999, "sale", 3, as_of - day)]
        conn.executemany(
            "insert into inventory_change(id, pid, type, quantity, timestamp, customer_id) "
            "values (?, ?, ?, ?, ?, ?)",
            [(next_id + i, pid, kind, qty, ts, 1 if kind == "sale" else None)
             for i, (pid, kind, qty, ts) in enumerate(rows + bad)],
        )


@dataclass
class Outcome:
    case: Case
    published: pd.DataFrame   # days_to_stockout, indexed by product_id
    at_risk: pd.DataFrame     # at_risk_in_a_week, indexed by product_id
    reference: pd.DataFrame   # reference model, indexed by product_id


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def outcome(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    case: Case = request.param
    data_dir = tmp_path_factory.mktemp(case.name) / "data"
    home = data_dir / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("STOCKOUT_TRANSACTIONS_URL", "STOCKOUT_INVENTORY_URL")}
    env.update(STOCKOUT_DATA_DIR=str(data_dir), STOCKOUT_NOW=case.now, DAGSTER_HOME=str(home))

    _run(["simulate", "--end", SIM_END, "--products", str(case.products),
          "--sales-per-day", str(case.sales_per_day), "--days", str(case.days),
          "--seed", str(case.seed)], env)
    if case.edges:
        _inject_edge_events(data_dir / "sources" / "transactions.sqlite", _epoch(case.as_of), _epoch(case.now))
    refresh = ["refresh", "--as-of", case.as_of]
    for key, value in case.model.items():
        refresh += [CLI_FLAGS[key], str(value)]
    _run(refresh, env)

    with duckdb.connect(str(data_dir / "mart" / "analytics.duckdb"), read_only=True) as conn:
        published = conn.execute("select * from days_to_stockout").df()
        at_risk = conn.execute("select * from at_risk_in_a_week").df()

    changes, products, suppliers, _inventory = load_sources(data_dir)
    snapshots = load_landed_snapshots(data_dir)
    assert [at for at, _ in snapshots] == [_epoch(case.now)], "expected exactly one snapshot, taken at 'now'"
    reference = compute_reference(changes, products, suppliers, snapshots, _epoch(case.as_of), **case.model)

    return Outcome(case, published.set_index("product_id", drop=False),
                   at_risk.set_index("product_id", drop=False),
                   reference.set_index("product_id", drop=False))


# --------------------------------------------------------------------------- comparison

def _is_null(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _as_date(value: object) -> date | None:
    if _is_null(value):
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date()
    return value  # already a date


def _close(a: object, b: object, rel: float, abs_: float) -> bool:
    if _is_null(a) or _is_null(b):
        return _is_null(a) and _is_null(b)
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)


def _same(column: str, a: object, b: object) -> bool:
    if column == "stockout_probability_7d":
        return _close(a, b, 0.0, PROBABILITY_TOLERANCE)
    if column == "safety_stock":
        return _close(a, b, SAFETY_STOCK_REL_TOL, ABS_TOL)
    if column in FLOAT_COLUMNS:
        return _close(a, b, REL_TOL, ABS_TOL)
    if column == "projected_stockout_date":
        return _as_date(a) == _as_date(b)
    if _is_null(a) or _is_null(b):
        return _is_null(a) and _is_null(b)
    if column in ("is_at_risk", "reorder_recommended"):
        return bool(a) == bool(b)
    return a == b


def _mismatches(published: pd.DataFrame, reference: pd.DataFrame, columns: list[str]) -> list[str]:
    problems = []
    for pid in reference.index:
        if pid not in published.index:
            problems.append(f"product {pid}: missing from the published relation")
            continue
        got, want = published.loc[pid], reference.loc[pid]
        for column in columns:
            if not _same(column, got[column], want[column]):
                problems.append(f"product {pid}: {column} published={got[column]!r} reference={want[column]!r}")
    return problems


def _report(case: Case, relation: str, problems: list[str]) -> str:
    shown = "\n  ".join(problems[:60])
    more = f"\n  ... and {len(problems) - 60} more" if len(problems) > 60 else ""
    return f"{case.name}: {len(problems)} mismatches in {relation} against the reference:\n  {shown}{more}"


COMPARED = FLOAT_COLUMNS + ["stockout_probability_7d"] + EXACT_COLUMNS


def test_days_to_stockout_matches_reference_for_every_product(outcome: Outcome) -> None:
    published, reference = outcome.published, outcome.reference
    assert published.index.is_unique
    extra = sorted(set(published.index) - set(reference.index))
    problems = [f"product {pid}: published but not in the catalogue" for pid in extra]
    problems += _mismatches(published, reference, COMPARED)
    as_of = pd.Timestamp(outcome.case.as_of).tz_localize(None)
    if not (pd.to_datetime(published["as_of"]) == as_of).all():
        problems.append(f"as_of column is not {as_of} everywhere: {published['as_of'].unique()!r}")
    assert not problems, _report(outcome.case, "days_to_stockout", problems)


def test_at_risk_in_a_week_matches_reference(outcome: Outcome) -> None:
    at_risk, reference = outcome.at_risk, outcome.reference
    expected = reference[reference["is_at_risk"]]
    assert len(expected) > 0, "the case should have at-risk products to compare"
    missing = sorted(set(expected.index) - set(at_risk.index))
    unexpected = sorted(set(at_risk.index) - set(expected.index))
    problems = [f"product {pid}: at risk per reference, absent from at_risk_in_a_week "
                f"(on_hand={expected.loc[pid, 'on_hand']}, demand_rate={expected.loc[pid, 'demand_rate']})"
                for pid in missing]
    problems += [f"product {pid}: in at_risk_in_a_week but not at risk per reference "
                 f"(on_hand={reference.loc[pid, 'on_hand'] if pid in reference.index else '?'}, "
                 f"demand_rate={reference.loc[pid, 'demand_rate'] if pid in reference.index else '?'})"
                 for pid in unexpected]
    shared = [c for c in COMPARED if c in at_risk.columns]
    problems += _mismatches(at_risk, expected.loc[[p for p in expected.index if p in at_risk.index]], shared)
    assert sorted(at_risk["risk_rank"].tolist()) == list(range(1, len(at_risk) + 1)), "ranks are not 1..n"
    assert not problems, _report(outcome.case, "at_risk_in_a_week", problems)
