"""Differential tests: the published mart against an independent reference model (DESIGN §4).

Each case simulates a small shop into the source systems, runs a real refresh (land, dbt,
checks, publish) through the CLI in a separate process, then recomputes every measure with
tests/reference_model.py straight from the SQLite sources and the landed inventory snapshots,
and compares product by product: days_to_stockout, at_risk_in_a_week, product_velocity,
daily_product_movements, stock_events, inventory_reconciliation and at_risk_changes.

One case is refreshed a second time a day later, after a day of trading and a stock count
that found shrinkage were written into the sources: that refresh has two snapshots, a
reconciliation with real shrinkage and a previous refresh for at_risk_changes, and is compared
too (test id `<case>-next-day`).
"""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
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


@dataclass(frozen=True)
class Case:
    name: str
    products: int
    sales_per_day: int
    days: int
    seed: int
    as_of: str  # the refresh instant T
    now: str = SIM_END  # STOCKOUT_NOW: the instant stamped on the snapshot
    model: dict[str, float] = field(default_factory=dict)  # reference kwargs
    edges: bool = False  # add hand-placed edge-case events to the simulated shop
    # then one more day of trading and a stock count with shrinkage is written into the
    # sources (_trade_one_more_day) and a second refresh, at as_of = now = as_of + 1 day, is
    # compared too; needs as_of == now. Two never-sold products are added to the shop first
    # (_add_idle_products), so that the count is the only change some product sees.
    next_day: bool = False


CASES = [
    # as_of = snapshot instant: on_hand is the snapshot itself, slices reconstructed backwards.
    # Then a day of trading, a stock count with shrinkage and a refresh at the next snapshot
    # (a day later): reconciliation, shrinkage in slices, movements and events, at-risk changes.
    Case("small-at-snapshot", products=60, sales_per_day=30, days=35, seed=7, as_of=SIM_END, next_day=True),
    # as_of 2.5 days before the snapshot: on_hand itself is reconstructed backwards.
    Case(
        "wide-before-snapshot",
        products=300,
        sales_per_day=400,
        days=45,
        seed=11,
        as_of="2026-11-19T00:00:00Z",
    ),
    # an instant off any hour boundary, a few hours before the snapshot, with hand-placed
    # events on every slice boundary, at the snapshot instant, stock driven negative, and
    # invalid rows (see _inject_edge_events).
    Case(
        "medium-odd-instant-edges",
        products=150,
        sales_per_day=120,
        days=40,
        seed=23,
        as_of="2026-11-21T07:13:29Z",
        edges=True,
    ),
    # non-default model settings, passed through the CLI; as_of 6 days before the snapshot.
    # This shop has a product out of stock all week (velocity_7d NULL -> velocity_28d).
    Case(
        "settings",
        products=200,
        sales_per_day=300,
        days=40,
        seed=2,
        as_of="2026-11-15T12:00:00Z",
        model={
            "horizon": 10,
            "threshold": 2,
            "reorder_factor": 2.0,
            "service_level": 0.9,
            "smoothing_factor": 0.5,
        },
    ),
]

CLI_FLAGS = {
    "horizon": "--horizon-days",
    "threshold": "--threshold",
    "reorder_factor": "--reorder-factor",
    "service_level": "--service-level",
    "smoothing_factor": "--smoothing-factor",
}

FLOAT_COLUMNS = [
    "on_hand",
    "units_sold_7d",
    "units_restocked_7d",
    "in_stock_days_7d",
    "velocity_7d",
    "velocity_28d",
    "velocity_ewma",
    "net_velocity_7d",
    "demand_rate",
    "trend",
    "days_to_stockout",
    "safety_stock",
    "suggested_reorder_qty",
    "risk_rank",
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
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
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
            return dict(
                conn.execute(
                    "select pid, sum(quantity) from inventory_change where type = 'sale' "
                    "and timestamp > ? and timestamp <= ? group by pid",
                    (lo, hi),
                ).fetchall()
            )

        sold_7d, sold_28d = sold_between(as_of - 7 * day, as_of), sold_between(as_of - 28 * day, as_of)
        quiet_week = [p for p in pids if p not in sold_7d and p in sold_28d]
        quiet_month = [p for p in pids if p not in sold_28d]
        rows: list[tuple[int, str, int, int]] = []  # (pid, type, quantity, timestamp)
        for k in range(29):  # sale on every slice boundary, on a few products
            rows.append((pids[k % 10], "sale", 1 + k % 3, as_of - k * day))
        rows += [
            (pids[0], "restock", 5, as_of - 7 * day),
            (pids[1], "restock", 4, as_of),
            (pids[2], "sale", 2, snapshot_at),
            (pids[3], "restock", 3, snapshot_at),
            (pids[4], "sale", 1, as_of + 1),
            (pids[5], "sale", 2, snapshot_at + 1),
        ]
        rows += [
            (pids[11], "restock", 1_000, as_of + 60),  # on_hand(T) < 0
            (pids[12], "restock", 1_000, as_of - 3 * day - 7_200),  # slices 4..27 out of stock
            (pids[13], "restock", 1_000, as_of - 8 * day),
        ]  # only the 28d window hit
        for p in quiet_week[:2] + quiet_month[:2]:  # out of stock at every slice start
            rows.append((p, "restock", 10_000, as_of - 1))
        bad = [
            (pids[20], "return", 5, as_of - day),
            (pids[20], "sale", 0, as_of - day),
            (pids[21], "sale", -4, as_of - 2 * day),
            (pids[21], "restock", -50, as_of - 2 * day),
            (999_999_999, "sale", 3, as_of - day),
        ]
        conn.executemany(
            "insert into inventory_change(id, pid, type, quantity, timestamp, customer_id) "
            "values (?, ?, ?, ?, ?, ?)",
            [
                (next_id + i, pid, kind, qty, ts, 1 if kind == "sale" else None)
                for i, (pid, kind, qty, ts) in enumerate(rows + bad)
            ],
        )


def _add_idle_products(sources: Path, at: int) -> list[int]:
    """Two new catalogue products with stock (10 and 2 units) and no movement ever; their ids."""
    with sqlite3.connect(sources / "transactions.sqlite") as conn:
        first = conn.execute("select max(id) from products").fetchone()[0] + 1
        supplier = conn.execute("select min(id) from suppliers").fetchone()[0]
        ids = [first, first + 1]
        conn.executemany(
            "insert into products(id, name, sku, price, supplier_id) values (?, ?, ?, ?, ?)",
            [(pid, f"Idle product {pid}", f"SKU-IDLE-{pid}", 9.5, supplier) for pid in ids],
        )
    with sqlite3.connect(sources / "inventory.sqlite") as conn:
        conn.executemany(
            "insert into inventory(pid, quantity, updated_at) values (?, ?, ?)",
            [(ids[0], 10, at - 40 * 86_400), (ids[1], 2, at - 40 * 86_400)],
        )
    return ids


def _trade_one_more_day(sources: Path, start: int, previous: pd.DataFrame, idle: list[int]) -> None:
    """One more day of the shop after a refresh at `start` read the inventory service, written
    straight into the source systems: new valid movements in (start, start + 1 day] (ids
    above the highest), the inventory service's quantities moved by exactly those movements,
    then what a stock count would find on top: units missing from a handful of products
    (the `idle` ones, never moved, among them) and one surplus. `previous` is the reference at
    `start`: products at risk then get big restocks (they leave the at-risk list), products
    selling but safe are sold out (they enter it)."""
    day, hour = 86_400, 3_600
    end = start + day
    prev = previous.set_index("product_id")
    with sqlite3.connect(sources / "inventory.sqlite") as conn:
        stock = {int(p): int(q) for p, q in conn.execute("select pid, quantity from inventory")}
    selling = [
        int(p)
        for p in prev[prev["demand_rate"] > 0]
        .sort_values(["demand_rate", "product_id"], ascending=[False, True])
        .index
    ]
    best = selling[:10]
    at_risk = [p for p in selling if prev.loc[p, "is_at_risk"]][:2]
    safe = [
        p
        for p in selling
        if not prev.loc[p, "is_at_risk"] and stock[p] > 0 and p not in best and p not in at_risk
    ]
    assert at_risk and len(safe) >= 3, "the shop should have products at risk and safe ones"

    rows: list[tuple[int, str, int, int]] = []  # (pid, type, quantity, timestamp)
    for i, pid in enumerate(best):  # ordinary trade: 1-3 units every two hours
        rows += [(pid, "sale", 1 + (i + h) % 3, start + h * hour + 17 * i) for h in range(1, 24, 2)]
    rows.append((best[0], "sale", 2, end))  # at the second snapshot's instant
    rows.append((at_risk[0], "restock", 500, end))  # likewise
    rows += [(pid, "restock", 500, start + 6 * hour + j) for j, pid in enumerate(at_risk[1:])]
    sold_out, below_zero, back = safe[-3:]  # slow sellers, so nothing else moves them
    rows.append((sold_out, "sale", stock[sold_out], start + 10 * hour))  # to exactly 0
    rows.append((below_zero, "sale", stock[below_zero] + 4, start + 10 * hour))  # to -4
    rows += [
        (back, "sale", stock[back], start + 8 * hour),  # out ...
        (back, "restock", 20, start + 14 * hour),  # ... and back in stock
        (back, "sale", 5, start + 16 * hour),
        (back, "restock", 2, start + 16 * hour),
    ]  # same second

    with sqlite3.connect(sources / "transactions.sqlite") as conn:
        next_id = conn.execute("select max(id) from inventory_change").fetchone()[0] + 1
        conn.executemany(
            "insert into inventory_change(id, pid, type, quantity, timestamp, customer_id) "
            "values (?, ?, ?, ?, ?, ?)",
            [
                (next_id + i, pid, kind, qty, ts, 7 if kind == "sale" else None)
                for i, (pid, kind, qty, ts) in enumerate(rows)
            ],
        )
    updated = dict(stock)
    last_change: dict[int, int] = {}
    for pid, kind, qty, ts in rows:
        updated[pid] += qty if kind == "restock" else -qty
        last_change[pid] = max(ts, last_change.get(pid, 0))

    # What the count finds besides the recorded movements.
    touched = set(best) | set(at_risk) | {sold_out, below_zero, back}
    large = [p for p in best if updated[p] >= 10][:3]
    assert len(large) == 3, "the best sellers should have stock left"
    shrinkage = {large[0]: -2, large[1]: -3, large[2]: -1}
    shrinkage[idle[0]] = -1  # the only change in 28 days:
    shrinkage[idle[1]] = -stock[idle[1]]  # 10 -> 9, and 2 -> 0 (out of stock)
    low = sorted((q, p) for p, q in updated.items() if q > 0 and p not in touched and p not in shrinkage)
    shrinkage[low[0][1]] = -low[0][0]  # counted out of stock
    shrinkage[below_zero] = 6  # surplus: -4 counted as 2, back in stock
    for pid, delta in shrinkage.items():
        updated[pid] += delta
        last_change[pid] = end
    with sqlite3.connect(sources / "inventory.sqlite") as conn:
        conn.executemany(
            "update inventory set quantity = ?, updated_at = ? where pid = ?",
            [(updated[p], last_change[p], p) for p in last_change],
        )


@dataclass
class Outcome:
    case: Case
    published: pd.DataFrame  # days_to_stockout, indexed by product_id
    at_risk: pd.DataFrame  # at_risk_in_a_week, indexed by product_id
    reference: pd.DataFrame  # reference model, indexed by product_id
    relations: dict[str, pd.DataFrame]  # every published relation, as published
    expected: dict[str, pd.DataFrame | None]  # the reference's version of the other relations
    previous_as_of: str | None = None  # the refresh before, when there was one


PUBLISHED = [
    "days_to_stockout",
    "at_risk_in_a_week",
    "product_velocity",
    "daily_product_movements",
    "stock_events",
    "inventory_reconciliation",
    "at_risk_changes",
]


def _refresh_args(case: Case, as_of: str) -> list[str]:
    args = ["refresh", "--as-of", as_of]
    for key, value in case.model.items():
        args += [CLI_FLAGS[key], str(value)]
    return args


def _next_day(iso: str) -> str:
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _compare_refresh(
    case: Case, name: str, data_dir: Path, as_of: str, now: str, previous: tuple[str, pd.DataFrame] | None
) -> Outcome:
    """Read the published mart and recompute everything at `as_of` from the sources as they
    are now. `previous` = (as_of, reference) of the refresh before, if any."""
    with duckdb.connect(str(data_dir / "mart" / "analytics.duckdb"), read_only=True) as conn:
        relations = {relation: conn.execute(f"select * from {relation}").df() for relation in PUBLISHED}
    published, at_risk = relations["days_to_stockout"], relations["at_risk_in_a_week"]

    T = _epoch(as_of)
    changes, products, suppliers, _inventory = load_sources(data_dir)
    snapshots = load_landed_snapshots(data_dir)
    taken = ([_epoch(previous[0])] if previous else []) + [_epoch(now)]
    assert [at for at, _ in snapshots] == taken, f"expected the snapshots taken at {taken}"
    reference = compute_reference(changes, products, suppliers, snapshots, T, **case.model)
    demand_rate = dict(zip(reference["product_id"], reference["demand_rate"]))
    expected = {
        "product_velocity": compute_product_velocity(reference),
        "daily_product_movements": compute_daily_movements(changes, products, snapshots, T),
        "stock_events": compute_stock_events(
            changes, products, suppliers, snapshots, T, demand_rate, case.model.get("reorder_factor", 1.5)
        ),
        "inventory_reconciliation": compute_reconciliation(changes, products, snapshots, T),
        "at_risk_changes": compute_at_risk_changes(previous[1], reference) if previous else None,
    }
    return Outcome(
        replace(case, name=name, as_of=as_of, now=now),
        published.set_index("product_id", drop=False),
        at_risk.set_index("product_id", drop=False),
        reference.set_index("product_id", drop=False),
        relations,
        expected,
        previous[0] if previous else None,
    )


def _run_case(case: Case, data_dir: Path) -> list[Outcome]:
    """Simulate the case's shop, refresh, compare; for a next_day case, trade a day, refresh
    and compare again. One Outcome per refresh."""
    home = data_dir / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("STOCKOUT_TRANSACTIONS_URL", "STOCKOUT_INVENTORY_URL")
    }
    env.update(STOCKOUT_DATA_DIR=str(data_dir), STOCKOUT_NOW=case.now, DAGSTER_HOME=str(home))

    _run(
        [
            "simulate",
            "--end",
            SIM_END,
            "--products",
            str(case.products),
            "--sales-per-day",
            str(case.sales_per_day),
            "--days",
            str(case.days),
            "--seed",
            str(case.seed),
        ],
        env,
    )
    if case.edges:
        _inject_edge_events(
            data_dir / "sources" / "transactions.sqlite", _epoch(case.as_of), _epoch(case.now)
        )
    if case.next_day:
        assert case.as_of == case.now, "a next_day case refreshes at its snapshot instants"
        idle = _add_idle_products(data_dir / "sources", _epoch(case.now))
    _run(_refresh_args(case, case.as_of), env)
    outcomes = [_compare_refresh(case, case.name, data_dir, case.as_of, case.now, None)]
    if case.next_day:
        _trade_one_more_day(data_dir / "sources", _epoch(case.as_of), outcomes[0].reference, idle)
        later = _next_day(case.as_of)
        _run(_refresh_args(case, later), {**env, "STOCKOUT_NOW": later})
        outcomes.append(
            _compare_refresh(
                case,
                f"{case.name}-next-day",
                data_dir,
                later,
                later,
                (case.as_of, outcomes[0].reference.reset_index(drop=True)),
            )
        )
    return outcomes


STAGES = [(case, 0) for case in CASES] + [(case, 1) for case in CASES if case.next_day]
_RUNS: dict[str, list[Outcome]] = {}


@pytest.fixture(
    scope="module", params=STAGES, ids=[case.name + ("-next-day" if stage else "") for case, stage in STAGES]
)
def outcome(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    case, stage = request.param
    if case.name not in _RUNS:
        _RUNS[case.name] = _run_case(case, tmp_path_factory.mktemp(case.name) / "data")
    return _RUNS[case.name][stage]


# --------------------------------------------------------------------------- comparison


def _is_null(value: object) -> bool:
    return (
        value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))
    )


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
                problems.append(
                    f"product {pid}: {column} published={got[column]!r} reference={want[column]!r}"
                )
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
    problems = [
        f"product {pid}: at risk per reference, absent from at_risk_in_a_week "
        f"(on_hand={expected.loc[pid, 'on_hand']}, demand_rate={expected.loc[pid, 'demand_rate']})"
        for pid in missing
    ]
    problems += [
        f"product {pid}: in at_risk_in_a_week but not at risk per reference "
        f"(on_hand={reference.loc[pid, 'on_hand'] if pid in reference.index else '?'}, "
        f"demand_rate={reference.loc[pid, 'demand_rate'] if pid in reference.index else '?'})"
        for pid in unexpected
    ]
    shared = [c for c in COMPARED if c in at_risk.columns]
    problems += _mismatches(at_risk, expected.loc[[p for p in expected.index if p in at_risk.index]], shared)
    assert sorted(at_risk["risk_rank"].tolist()) == list(range(1, len(at_risk) + 1)), "ranks are not 1..n"
    assert not problems, _report(outcome.case, "at_risk_in_a_week", problems)


# --------------------------------------------------------------------------- other relations


def _epoch_of(value: object) -> int | None:
    """A published timestamp (naive UTC) as Unix seconds."""
    if _is_null(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return int((stamp - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1))


def _normalized(
    frame: pd.DataFrame, timestamps: tuple[str, ...] = (), dates: tuple[str, ...] = ()
) -> pd.DataFrame:
    frame = frame.copy()
    for column in timestamps:
        frame[column] = pd.Series([_epoch_of(v) for v in frame[column]], index=frame.index, dtype=object)
    for column in dates:
        frame[column] = pd.Series([_as_date(v) for v in frame[column]], index=frame.index, dtype=object)
    return frame


def _equal(column: str, a: object, b: object) -> bool:
    if _is_null(a) or _is_null(b):
        return _is_null(a) and _is_null(b)
    if "probability" in column:
        return _close(a, b, 0.0, PROBABILITY_TOLERANCE)
    if isinstance(a, bool | np.bool_) or isinstance(b, bool | np.bool_):
        return bool(a) == bool(b)
    if isinstance(a, int | np.integer) and isinstance(b, int | np.integer):
        return int(a) == int(b)  # counts, stock and instants: exactly (a relative 1e-9 is a second at 2026)
    if isinstance(a, int | float | np.number) and isinstance(b, int | float | np.number):
        return _close(a, b, REL_TOL, ABS_TOL)
    return a == b


def _keyed_mismatches(published: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> list[str]:
    """Row by row on `keys`: rows missing or extra, and every other column of `expected`."""
    columns = [c for c in expected.columns if c not in keys]
    got = {tuple(r[k] for k in keys): r for r in published.to_dict("records")}
    want = {tuple(r[k] for k in keys): r for r in expected.to_dict("records")}
    problems = []
    if len(got) != len(published):
        problems.append(f"{len(published) - len(got)} duplicated {keys} in the published relation")
    for key in sorted(set(want) - set(got), key=str):
        problems.append(f"{dict(zip(keys, key))}: missing from the published relation; reference {want[key]}")
    for key in sorted(set(got) - set(want), key=str):
        problems.append(
            f"{dict(zip(keys, key))}: published but not in the reference: "
            f"{ {c: got[key].get(c) for c in columns} }"
        )
    for key in sorted(set(got) & set(want), key=str):
        for column in columns:
            a, b = got[key].get(column), want[key][column]
            if not _equal(column, a, b):
                problems.append(f"{dict(zip(keys, key))}: {column} published={a!r} reference={b!r}")
    return problems


def _as_of_problems(frame: pd.DataFrame, as_of: str) -> list[str]:
    instant = pd.Timestamp(as_of).tz_localize(None)
    if len(frame) and not (pd.to_datetime(frame["as_of"]) == instant).all():
        return [f"as_of column is not {instant} everywhere: {frame['as_of'].unique()!r}"]
    return []


def test_product_velocity_matches_reference(outcome: Outcome) -> None:
    published, expected = outcome.relations["product_velocity"], outcome.expected["product_velocity"]
    assert len(expected) > 0, "the case should have products that sold"
    problems = _as_of_problems(published, outcome.case.as_of)
    problems += _keyed_mismatches(published, expected, ["product_id"])
    assert not problems, _report(outcome.case, "product_velocity", problems)


def test_daily_product_movements_match_reference(outcome: Outcome) -> None:
    published = _normalized(outcome.relations["daily_product_movements"], dates=("calendar_date",))
    expected = outcome.expected["daily_product_movements"]
    assert len(expected) > 0, "the case should have products whose stock moved"
    problems = _as_of_problems(published, outcome.case.as_of)
    problems += _keyed_mismatches(published, expected, ["product_id", "calendar_date"])
    assert not problems, _report(outcome.case, "daily_product_movements", problems)


def test_stock_events_match_reference(outcome: Outcome) -> None:
    published = _normalized(
        outcome.relations["stock_events"], timestamps=("event_at",), dates=("event_date",)
    )
    expected = outcome.expected["stock_events"]
    assert set(expected["event_type"]) == {"out_of_stock", "back_in_stock", "below_reorder_point"}, (
        f"the case should have every kind of event, has {sorted(set(expected['event_type']))}"
    )
    if outcome.previous_as_of:  # shrinkage found by the snapshot read at T moved stock across a line
        at_t = expected[expected["event_at"] == _epoch(outcome.case.as_of)]
        assert {"out_of_stock", "back_in_stock"} <= set(at_t["event_type"]), at_t
    problems = _as_of_problems(published, outcome.case.as_of)
    problems += _keyed_mismatches(published, expected, ["product_id", "event_at", "event_type"])
    assert not problems, _report(outcome.case, "stock_events", problems)


def test_inventory_reconciliation_matches_reference(outcome: Outcome) -> None:
    published = _normalized(
        outcome.relations["inventory_reconciliation"], timestamps=("snapshot_at", "previous_snapshot_at")
    )
    expected = outcome.expected["inventory_reconciliation"]
    if outcome.previous_as_of:
        assert (
            len(expected) > 0 and (expected["shrinkage"] < 0).any() and (expected["shrinkage"] > 0).any()
        ), "the two-snapshot case should find units missing and a surplus"
    problems = _as_of_problems(published, outcome.case.as_of)
    problems += _keyed_mismatches(published, expected, ["product_id", "snapshot_at"])
    assert not problems, _report(outcome.case, "inventory_reconciliation", problems)


def test_at_risk_changes_match_reference(outcome: Outcome) -> None:
    published = outcome.relations["at_risk_changes"]
    expected = outcome.expected["at_risk_changes"]
    if expected is None:  # a single refresh: nothing to compare against
        assert len(published) == 0, (
            f"{outcome.case.name}: at_risk_changes after a first refresh:\n{published}"
        )
        return
    assert set(expected["change"]) == {"entered", "left"}, (
        "the case should have products entering and leaving"
    )
    problems = _as_of_problems(published, outcome.case.as_of)
    previous = pd.Timestamp(outcome.previous_as_of).tz_localize(None)
    if not (pd.to_datetime(published["previous_as_of"]) == previous).all():
        problems.append(
            f"previous_as_of is not {previous} everywhere: {published['previous_as_of'].unique()!r}"
        )
    problems += _keyed_mismatches(published, expected, ["product_id"])
    assert not problems, _report(outcome.case, "at_risk_changes", problems)
