"""Reference implementation of the risk model (DESIGN §4) for differential tests.

Written straight from the definitions, in plain pandas / numpy / scipy, reading the SOURCE
systems (the SQLite files) plus the inventory snapshots, never the warehouse. It loops over
products and day slices on purpose: it is meant to be obviously right, not fast.

Interpretation choices (fixed, so that the warehouse can be compared with them):

- valid changes: type in ('sale', 'restock'), quantity > 0, pid not null; an id seen twice
  counts once.
- on_hand(p, t): nearest snapshot (holding p) at or before t, plus restocks minus sales with
  snapshot_at < ts <= t; if none precedes t, the earliest one after t, minus restocks plus
  sales with t < ts <= snapshot_at; a product in no snapshot: movements from zero, ts <= t.
- day slice k = (T - (k+1) days, T - k days], k = 0..27; in stock when on_hand at the
  slice's start > 0 or units were sold in it.
- shrinkage of a product's snapshot = its quantity - (the product's previous snapshot's
  quantity + restocks - sales with previous_at < ts <= snapshot_at); a product's first
  snapshot finds none.
- only catalogue products (the `products` table) are reported; movements of unknown products
  are ignored.

Besides `compute_reference` (days_to_stockout, at_risk_in_a_week, and the columns of
product_velocity), the module computes the other published relations: `compute_daily_movements`,
`compute_stock_events`, `compute_reconciliation` and `compute_at_risk_changes`.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

DAY = 86_400
SLICES = 28

COLUMNS = [
    "product_id",
    "on_hand",
    "units_sold_7d",
    "units_restocked_7d",
    "units_sold_28d",
    "units_restocked_28d",
    "in_stock_days_7d",
    "in_stock_days_28d",
    "velocity_7d",
    "velocity_28d",
    "velocity_ewma",
    "net_velocity_7d",
    "demand_rate",
    "trend",
    "days_to_stockout",
    "is_at_risk",
    "stock_status",
    "stockout_probability_7d",
    "projected_stockout_date",
    "reorder_recommended",
    "safety_stock",
    "suggested_reorder_qty",
    "risk_rank",
]


# --------------------------------------------------------------------------- sources


def load_sources(data_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(changes, products, suppliers, inventory) as the source systems hold them."""
    sources = Path(data_dir) / "sources"
    with sqlite3.connect(sources / "transactions.sqlite") as conn:
        changes = pd.read_sql_query(
            "select id, pid, type, quantity, timestamp, customer_id from inventory_change", conn
        )
        products = pd.read_sql_query("select id, name, sku, price, supplier_id from products", conn)
        suppliers = pd.read_sql_query("select id, name, lead_time_days from suppliers", conn)
    with sqlite3.connect(sources / "inventory.sqlite") as conn:
        inventory = pd.read_sql_query("select pid, quantity, updated_at from inventory", conn)
    return changes, products, suppliers, inventory


def load_landed_snapshots(data_dir: str | Path) -> list[tuple[int, pd.DataFrame]]:
    """Snapshots landed under data_dir/landing/inventory_snapshots/, as
    [(snapshot_at epoch seconds, DataFrame[pid, quantity])], oldest first."""
    files = sorted((Path(data_dir) / "landing" / "inventory_snapshots").glob("*.parquet"))
    if not files:
        return []
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    snapshots = []
    for snapshot_at, group in frame.groupby("snapshot_at", sort=True):
        snapshots.append((int(snapshot_at), group[["pid", "quantity"]].reset_index(drop=True)))
    return snapshots


def snapshot_from_inventory(inventory: pd.DataFrame, snapshot_at: int) -> list[tuple[int, pd.DataFrame]]:
    """One snapshot: a full read of the inventory store stamped `snapshot_at`."""
    return [(int(snapshot_at), inventory[["pid", "quantity"]].copy())]


def valid_changes(changes: pd.DataFrame) -> pd.DataFrame:
    c = changes.copy()
    c = c[c["pid"].notna() & c["type"].isin(["sale", "restock"]) & c["quantity"].notna()]
    c = c[c["quantity"] > 0]
    c = c.drop_duplicates(subset="id", keep="first")
    c = c.astype({"pid": "int64", "quantity": "int64", "timestamp": "int64"})
    return c.reset_index(drop=True)


# --------------------------------------------------------------------------- stock


class _ProductHistory:
    """Movements and snapshots of one product."""

    def __init__(
        self,
        ts: np.ndarray,
        signed: np.ndarray,
        sold: np.ndarray,
        restocked: np.ndarray,
        snapshots: list[tuple[int, int]],
        read_instants: list[int],
    ):
        self.ts = ts  # event timestamps
        self.signed = signed  # +restock / -sale units
        self.sold = sold  # sale units (0 for restocks)
        self.restocked = restocked  # restock units (0 for sales)
        self.snapshots = sorted(snapshots)  # [(snapshot_at, quantity)]
        self.read_instants = sorted(read_instants)  # every read of the inventory service

    def net_between(self, lo: int, hi: int) -> int:
        """restocks - sales with lo < ts <= hi."""
        mask = (self.ts > lo) & (self.ts <= hi)
        return int(self.signed[mask].sum())

    def on_hand(self, t: int) -> int:
        before = [s for s in self.snapshots if s[0] <= t]
        if before:
            at, qty = before[-1]
            return qty + self.net_between(at, t)
        after = [s for s in self.snapshots if s[0] > t]
        if after:
            at, qty = after[0]
            return qty - self.net_between(t, at)
        return int(self.signed[self.ts <= t].sum())

    def sold_between(self, lo: int, hi: int) -> int:
        mask = (self.ts > lo) & (self.ts <= hi)
        return int(self.sold[mask].sum())

    def restocked_between(self, lo: int, hi: int) -> int:
        mask = (self.ts > lo) & (self.ts <= hi)
        return int(self.restocked[mask].sum())

    def reconciliations(self) -> list[dict[str, int]]:
        """Every snapshot whose product was also in the previous read of the inventory
        service, against what that read and the movements between them predict, oldest first."""
        rows = []
        for (prev_at, prev_qty), (at, qty) in zip(self.snapshots, self.snapshots[1:]):
            if (
                self.read_instants.index(at) == 0
                or self.read_instants[self.read_instants.index(at) - 1] != prev_at
            ):
                continue
            sold, restocked = self.sold_between(prev_at, at), self.restocked_between(prev_at, at)
            expected = prev_qty + restocked - sold
            rows.append(
                {
                    "snapshot_at": at,
                    "previous_snapshot_at": prev_at,
                    "previous_quantity": prev_qty,
                    "units_sold_between": sold,
                    "units_restocked_between": restocked,
                    "expected_quantity": expected,
                    "snapshot_quantity": qty,
                    "shrinkage": qty - expected,
                }
            )
        return rows


def _histories(
    valid: pd.DataFrame, products: pd.DataFrame, snapshots: list[tuple[int, pd.DataFrame]]
) -> dict[int, _ProductHistory]:
    """{product id: its history}, for every catalogue product, in id order."""
    snap_by_pid: dict[int, list[tuple[int, int]]] = {}
    for snapshot_at, frame in snapshots:
        for pid, qty in zip(frame["pid"], frame["quantity"]):
            snap_by_pid.setdefault(int(pid), []).append((int(snapshot_at), int(qty)))

    events_by_pid = {int(pid): g for pid, g in valid.groupby("pid")}
    empty = valid.iloc[0:0]
    histories = {}
    for pid in sorted(int(p) for p in products["id"]):
        ev = events_by_pid.get(pid, empty)
        is_sale = (ev["type"] == "sale").to_numpy()
        qty = ev["quantity"].to_numpy(dtype=np.int64)
        histories[pid] = _ProductHistory(
            ts=ev["timestamp"].to_numpy(dtype=np.int64),
            signed=np.where(is_sale, -qty, qty),
            sold=np.where(is_sale, qty, 0),
            restocked=np.where(is_sale, 0, qty),
            snapshots=snap_by_pid.get(pid, []),
            read_instants=[int(at) for at, _ in snapshots],
        )
    return histories


# --------------------------------------------------------------------------- model


def _nan_div(a: float, b: float) -> float:
    if b is None or (isinstance(b, float) and math.isnan(b)) or b == 0:
        return math.nan
    if isinstance(a, float) and math.isnan(a):
        return math.nan
    return a / b


def _probability(
    on_hand: int, demand_rate: float, slice_sales: list[int], horizon: float, threshold: float
) -> float:
    if math.isnan(demand_rate):
        return math.nan
    need = on_hand - threshold  # stock-out when D >= need
    if need <= 0:
        return 1.0
    mu = horizon * demand_rate
    if mu == 0:
        return 0.0
    k = math.ceil(need)  # D integer: D >= need  <=>  D >= ceil(need)
    mean = float(np.mean(slice_sales))
    var = float(np.var(slice_sales, ddof=1))
    if mean > 0 and var > mean:
        ratio = var / mean
        n = mu / (ratio - 1.0)
        p = 1.0 / ratio
        return float(stats.nbinom.sf(k - 1, n, p))
    return float(stats.poisson.sf(k - 1, mu))


def compute_reference(
    changes: pd.DataFrame,
    products: pd.DataFrame,
    suppliers: pd.DataFrame,
    snapshots: list[tuple[int, pd.DataFrame]],
    as_of_epoch: int,
    horizon: float = 7,
    threshold: float = 0,
    reorder_factor: float = 1.5,
    service_level: float = 0.95,
    smoothing_factor: float = 0.3,
) -> pd.DataFrame:
    """One row per catalogue product with the DESIGN §4 measures at T = as_of_epoch."""
    T = int(as_of_epoch)
    valid = valid_changes(changes)
    z = float(stats.norm.ppf(service_level))
    lead_by_supplier = dict(zip(suppliers["id"], suppliers["lead_time_days"]))

    histories = _histories(valid, products, snapshots)

    rows = []
    for _, product in products.sort_values("id").iterrows():
        pid = int(product["id"])
        hist = histories[pid]

        on_hand = hist.on_hand(T)
        sold, restocked, in_stock = [], [], []
        for k in range(SLICES):
            start, end = T - (k + 1) * DAY, T - k * DAY
            s = hist.sold_between(start, end)
            sold.append(s)
            restocked.append(hist.restocked_between(start, end))
            in_stock.append(hist.on_hand(start) > 0 or s > 0)

        sold7, restocked7 = sum(sold[:7]), sum(restocked[:7])
        isd7, isd28 = sum(in_stock[:7]), sum(in_stock)
        v7 = sold7 / isd7 if isd7 else math.nan
        v28 = sum(sold) / isd28 if isd28 else math.nan
        weights = [(1 - smoothing_factor) ** k for k in range(SLICES)]
        w_sum = sum(w for w, i in zip(weights, in_stock) if i)
        ewma = sum(w * s for w, s, i in zip(weights, sold, in_stock) if i) / w_sum if w_sum else math.nan
        demand_rate = v28 if math.isnan(v7) else v7
        trend = _nan_div(v7, v28)
        net7 = (sold7 - restocked7) / 7

        if math.isnan(demand_rate) or demand_rate == 0:
            dts = math.nan
        elif on_hand <= 0:
            dts = 0.0
        else:
            dts = on_hand / demand_rate
        at_risk = (
            (not math.isnan(demand_rate))
            and demand_rate > 0
            and (on_hand - horizon * demand_rate <= threshold)
        )
        status = "out_of_stock" if on_hand <= 0 else ("at_risk" if at_risk else "ok")
        prob = _probability(on_hand, demand_rate, sold, horizon, threshold)
        projected = (
            pd.NaT
            if math.isnan(dts)
            else (datetime.fromtimestamp(T, tz=timezone.utc) + timedelta(days=dts)).date()
        )

        supplier_id = product["supplier_id"]
        lead = lead_by_supplier.get(int(supplier_id)) if pd.notna(supplier_id) else None
        lead_f = math.nan if lead is None or pd.isna(lead) else float(lead)
        reorder = (not math.isnan(dts)) and (not math.isnan(lead_f)) and dts < lead_f * reorder_factor
        lead0 = 0.0 if math.isnan(lead_f) else lead_f
        sigma = float(np.std(sold, ddof=1))
        safety = z * sigma * math.sqrt(lead0)
        dr0 = 0.0 if math.isnan(demand_rate) else demand_rate
        qty_reorder = max(0, math.ceil(dr0 * (lead0 + horizon) + safety - on_hand))

        rows.append(
            {
                "product_id": pid,
                "on_hand": on_hand,
                "units_sold_7d": sold7,
                "units_restocked_7d": restocked7,
                "units_sold_28d": sum(sold),
                "units_restocked_28d": sum(restocked),
                "in_stock_days_7d": isd7,
                "in_stock_days_28d": isd28,
                "velocity_7d": v7,
                "velocity_28d": v28,
                "velocity_ewma": ewma,
                "net_velocity_7d": net7,
                "demand_rate": demand_rate,
                "trend": trend,
                "days_to_stockout": dts,
                "is_at_risk": at_risk,
                "stock_status": status,
                "stockout_probability_7d": prob,
                "projected_stockout_date": projected,
                "reorder_recommended": reorder,
                "safety_stock": safety,
                "suggested_reorder_qty": qty_reorder,
            }
        )

    out = pd.DataFrame(rows)
    out["risk_rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    risky = out[out["is_at_risk"]].copy()
    if len(risky):
        risky["_p"] = -risky["stockout_probability_7d"]
        risky = risky.sort_values(["_p", "days_to_stockout", "product_id"], kind="mergesort")
        out.loc[risky.index, "risk_rank"] = np.arange(1, len(risky) + 1)
    return out[COLUMNS]


# --------------------------------------------------------------------------- other relations


def _lead_times(products: pd.DataFrame, suppliers: pd.DataFrame) -> dict[int, float]:
    """{product id: its supplier's lead time in days, NaN when unknown}."""
    lead_by_supplier = dict(zip(suppliers["id"], suppliers["lead_time_days"]))
    leads = {}
    for pid, supplier_id in zip(products["id"], products["supplier_id"]):
        lead = lead_by_supplier.get(int(supplier_id)) if pd.notna(supplier_id) else None
        leads[int(pid)] = math.nan if lead is None or pd.isna(lead) else float(lead)
    return leads


def compute_product_velocity(reference: pd.DataFrame) -> pd.DataFrame:
    """product_velocity: the rows of `compute_reference` for products that sold in
    (T - 28 days, T]."""
    columns = [
        "product_id",
        "units_sold_7d",
        "units_restocked_7d",
        "units_sold_28d",
        "units_restocked_28d",
        "in_stock_days_7d",
        "in_stock_days_28d",
        "velocity_7d",
        "velocity_28d",
        "velocity_ewma",
        "net_velocity_7d",
        "trend",
        "demand_rate",
    ]
    return reference.loc[reference["units_sold_28d"] > 0, columns].reset_index(drop=True)


def compute_reconciliation(
    changes: pd.DataFrame,
    products: pd.DataFrame,
    snapshots: list[tuple[int, pd.DataFrame]],
    as_of_epoch: int,
) -> pd.DataFrame:
    """inventory_reconciliation: per product, every snapshot read in (T - 28 days, T] whose
    count differs from what the previous read and the movements predict (shrinkage != 0)."""
    T = int(as_of_epoch)
    rows = []
    for pid, hist in _histories(valid_changes(changes), products, snapshots).items():
        for row in hist.reconciliations():
            if T - SLICES * DAY < row["snapshot_at"] <= T and row["shrinkage"] != 0:
                rows.append({"product_id": pid, **row})
    columns = [
        "product_id",
        "snapshot_at",
        "previous_snapshot_at",
        "previous_quantity",
        "units_sold_between",
        "units_restocked_between",
        "expected_quantity",
        "snapshot_quantity",
        "shrinkage",
    ]
    return pd.DataFrame(rows, columns=columns)


def compute_daily_movements(
    changes: pd.DataFrame,
    products: pd.DataFrame,
    snapshots: list[tuple[int, pd.DataFrame]],
    as_of_epoch: int,
) -> pd.DataFrame:
    """daily_product_movements: per product and UTC calendar day date(T) - 27 .. date(T) (the
    last one cut at T), the days its stock changed (a movement, or shrinkage a snapshot read
    that day found) and the days it spent out of stock. calendar_date is a datetime.date;
    on_hand_start = on_hand(day start - 1 s), on_hand_end = on_hand(min(day end - 1 s, T))."""
    T = int(as_of_epoch)
    today_start = T // DAY * DAY
    first_start = today_start - (SLICES - 1) * DAY
    rows = []
    for pid, hist in _histories(valid_changes(changes), products, snapshots).items():
        moved = bool(((hist.ts >= first_start) & (hist.ts <= T)).any())
        shrunk = any(
            r["shrinkage"] != 0 and first_start <= r["snapshot_at"] <= T for r in hist.reconciliations()
        )
        if not (moved or shrunk or hist.on_hand(T) <= 0):
            continue
        for d in range(SLICES):
            start = first_start + d * DAY
            last = min(start + DAY - 1, T)
            sold = hist.sold_between(start - 1, last)
            start_stock = hist.on_hand(start - 1)
            end_stock = hist.on_hand(last)
            restocked = hist.restocked_between(start - 1, last)
            if not (sold > 0 or restocked > 0 or start_stock != end_stock or start_stock <= 0):
                continue  # unchanged and in stock all day: not listed
            rows.append(
                {
                    "product_id": pid,
                    "calendar_date": datetime.fromtimestamp(start, tz=timezone.utc).date(),
                    "units_sold": sold,
                    "units_restocked": restocked,
                    "on_hand_start": start_stock,
                    "on_hand_end": end_stock,
                    "is_in_stock": start_stock > 0 or sold > 0,
                }
            )
    columns = [
        "product_id",
        "calendar_date",
        "units_sold",
        "units_restocked",
        "on_hand_start",
        "on_hand_end",
        "is_in_stock",
    ]
    return pd.DataFrame(rows, columns=columns)


def compute_stock_events(
    changes: pd.DataFrame,
    products: pd.DataFrame,
    suppliers: pd.DataFrame,
    snapshots: list[tuple[int, pd.DataFrame]],
    as_of_epoch: int,
    demand_rate: dict[int, float],
    reorder_factor: float = 1.5,
) -> pd.DataFrame:
    """stock_events: for each product whose stock changed in (T - 28 days, T], stock followed
    second by second from on_hand(T - 28 days): in each second the net of its movements, plus
    at each snapshot instant the shrinkage the snapshot found. event_at in epoch seconds,
    event_date a datetime.date. `demand_rate` is {product id: demand_rate at T}."""
    T = int(as_of_epoch)
    window_start = T - SLICES * DAY
    leads = _lead_times(products, suppliers)
    rows = []
    for pid, hist in _histories(valid_changes(changes), products, snapshots).items():
        per_second: dict[int, int] = {}
        for ts, change in zip(hist.ts, hist.signed):
            if window_start < ts <= T:
                per_second[int(ts)] = per_second.get(int(ts), 0) + int(change)
        for r in hist.reconciliations():
            if r["shrinkage"] != 0 and window_start < r["snapshot_at"] <= T:
                at = r["snapshot_at"]
                per_second[at] = per_second.get(at, 0) + r["shrinkage"]
        if not per_second:
            continue
        rate, lead = demand_rate.get(pid, math.nan), leads[pid]
        reorder_point = math.nan if math.isnan(rate) or math.isnan(lead) else rate * lead * reorder_factor
        stock = hist.on_hand(window_start)
        for at in sorted(per_second):
            before, after = stock, stock + per_second[at]
            stock = after
            kinds = []
            if before > 0 and after <= 0:
                kinds.append("out_of_stock")
            if before <= 0 and after > 0:
                kinds.append("back_in_stock")
            if not math.isnan(reorder_point) and reorder_point > 0 and before >= reorder_point > after:
                kinds.append("below_reorder_point")
            for kind in kinds:
                rows.append(
                    {
                        "product_id": pid,
                        "event_date": datetime.fromtimestamp(at, tz=timezone.utc).date(),
                        "event_at": at,
                        "event_type": kind,
                        "on_hand_before": before,
                        "on_hand_after": after,
                        "reorder_point": reorder_point,
                    }
                )
        assert stock == hist.on_hand(T), (
            f"product {pid}: walk ends at {stock}, on_hand(T) = {hist.on_hand(T)}"
        )
    columns = [
        "product_id",
        "event_date",
        "event_at",
        "event_type",
        "on_hand_before",
        "on_hand_after",
        "reorder_point",
    ]
    return pd.DataFrame(rows, columns=columns)


def compute_at_risk_changes(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """at_risk_changes between two `compute_reference` results (the previous refresh's and
    this one's): the products at risk in exactly one of them."""
    prev = previous.set_index("product_id")
    now_ = current.set_index("product_id")
    was = set(prev.index[prev["is_at_risk"]])
    is_ = set(now_.index[now_["is_at_risk"]])
    rows = []
    for pid in sorted(was ^ is_):
        entered = pid in is_
        rows.append(
            {
                "product_id": pid,
                "change": "entered" if entered else "left",
                "risk_rank": now_.loc[pid, "risk_rank"] if entered else pd.NA,
                "previous_risk_rank": pd.NA if entered else prev.loc[pid, "risk_rank"],
                "stock_status": now_.loc[pid, "stock_status"],
                "on_hand": now_.loc[pid, "on_hand"],
                "days_to_stockout": now_.loc[pid, "days_to_stockout"],
                "previous_days_to_stockout": math.nan if entered else prev.loc[pid, "days_to_stockout"],
                "stockout_probability_7d": now_.loc[pid, "stockout_probability_7d"],
                "previous_stockout_probability_7d": (
                    math.nan if entered else prev.loc[pid, "stockout_probability_7d"]
                ),
            }
        )
    columns = [
        "product_id",
        "change",
        "risk_rank",
        "previous_risk_rank",
        "stock_status",
        "on_hand",
        "days_to_stockout",
        "previous_days_to_stockout",
        "stockout_probability_7d",
        "previous_stockout_probability_7d",
    ]
    return pd.DataFrame(rows, columns=columns)
