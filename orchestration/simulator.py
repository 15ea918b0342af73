"""Deterministic, vectorised simulator of the shop's source systems (DESIGN §2).

The shop is stepped hour by hour. Each hour, sale events are drawn for the whole shop at
once (Poisson total, products picked by popularity), merged with the restocks arriving that
hour, and settled against stock in time order with lost sales when demand exceeds stock.
Products that fall below their reorder point place one order that arrives a supplier lead
time later. Nothing loops per event or per product in Python, so cost scales with the number
of events, not with products x hours.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.sources import (
    INVENTORY_CHANGE_SCHEMA,
    INVENTORY_SCHEMA,
    PRODUCTS_SCHEMA,
    SUPPLIERS_SCHEMA,
)

__all__ = [
    "TIERS",
    "Shop",
    "ShopSpec",
    "simulate_shop",
    "write_inventory_to_sqlite",
    "write_shop_to_sqlite",
    "write_transactions_to_sqlite",
]

HOUR = 3_600
DAY = 86_400

# Demand shape. Weekly factors are Mon..Sun and average 1; the diurnal profile is by UTC hour.
ZIPF_EXPONENT = 1.1
WEEKLY = np.array([0.85, 0.90, 0.95, 1.00, 1.05, 1.25, 1.00])
_DIURNAL_RAW = np.array(
    [
        0.25,
        0.15,
        0.10,
        0.10,
        0.10,
        0.15,
        0.30,
        0.50,
        0.70,
        0.90,
        1.00,
        1.10,
        1.20,
        1.15,
        1.10,
        1.10,
        1.20,
        1.35,
        1.60,
        1.90,
        2.00,
        1.80,
        1.30,
        0.70,
    ]
)
DIURNAL = _DIURNAL_RAW / _DIURNAL_RAW.mean()

# Units per sale event: mostly 1, sometimes 2-3; lumpy long-tail products add bulk orders.
QTY_VALUES = np.array([1, 2, 3])
QTY_PROBS = np.array([0.80, 0.15, 0.05])
LUMPY_SHARE_OF_TAIL = 0.10  # share of long-tail products that see bulk orders
TAIL_START_QUANTILE = 0.20  # products beyond the top 20% by popularity are "long tail"
BULK_PROB = 0.15  # chance that a lumpy product's sale event is a bulk order
BULK_MIN, BULK_MAX = 5, 20
# Variance-to-mean of units for compound-Poisson demand (E[q^2] / E[q]).
VARIANCE_PER_UNIT = float(QTY_VALUES**2 @ QTY_PROBS / (QTY_VALUES @ QTY_PROBS))

# Replenishment policy and supply.
LEAD_TIMES_DAYS = np.array([2, 3, 5, 7, 10, 14])
RATE_ERROR_SIGMA = 0.5  # lognormal error of the shop's own demand estimate
SAFETY_DAYS = (1.0, 3.0)  # fixed safety cover on top of lead time, per product
SAFETY_LEAD_FACTOR = (0.5, 1.0)  # plus cover growing with lead time, as forecast error does
SAFETY_Z = 1.65  # Poisson-style buffer, which matters for slow movers
COVER_DAYS = (14.0, 28.0)  # days of demand one order covers
MIN_ORDER_QTY = (3, 7)  # at least a few units per order (high bound exclusive)
DELIVERY_JITTER_S = (1, 6 * HOUR)  # a delivery lands some hours after lead time expires

LATE_SHARE = 0.005  # sale events whose arrival (id) is delayed
LATE_DELAY_S = (HOUR, 6 * HOUR)

_SUPPLIER_SUFFIXES = ("Ltd", "GmbH", "Inc", "& Co", "Trading", "Wholesale")
_ADJECTIVES = (
    "Classic",
    "Compact",
    "Deluxe",
    "Eco",
    "Essential",
    "Premium",
    "Smart",
    "Sturdy",
    "Travel",
    "Vintage",
    "Wireless",
    "Organic",
    "Portable",
    "Mini",
)
_NOUNS = (
    "Bottle",
    "Backpack",
    "Blender",
    "Candle",
    "Chair",
    "Charger",
    "Kettle",
    "Lamp",
    "Mug",
    "Notebook",
    "Pillow",
    "Scarf",
    "Speaker",
    "Teapot",
    "Towel",
    "Watch",
)

# DDL of the source systems, exactly as DESIGN §2 fixes them; SQLite and PostgreSQL both take it.
TRANSACTIONS_DDL = {
    "inventory_change": "CREATE TABLE inventory_change(id INTEGER PRIMARY KEY, "
    "pid INTEGER NOT NULL, type TEXT NOT NULL, quantity INTEGER NOT NULL, "
    "timestamp INTEGER NOT NULL, customer_id INTEGER)",
    "products": "CREATE TABLE products(id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "sku TEXT NOT NULL, price NUMERIC NOT NULL, supplier_id INTEGER)",
    "suppliers": "CREATE TABLE suppliers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "lead_time_days INTEGER NOT NULL)",
}
INVENTORY_DDL = {
    "inventory": "CREATE TABLE inventory(pid INTEGER PRIMARY KEY, "
    "quantity INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
}

_RESTOCK, _SALE = 0, 1  # event kinds; restocks sort before sales at the same second


@dataclass(frozen=True)
class ShopSpec:
    """Size and shape of a simulated shop."""

    products: int = 250
    customers: int = 100
    sales_per_day: int = 50  # mean number of sale events per day over the whole shop
    days: int = 42  # history length ending at `end`
    end: datetime | None = None  # tz-aware UTC; None -> caller resolves to "now"
    seed: int = 42


TIERS: dict[str, ShopSpec] = {
    "1": ShopSpec(products=250, customers=100, sales_per_day=50),
    "bench": ShopSpec(products=10_000_000, customers=1_000_000, sales_per_day=5_000_000),
}


@dataclass
class Shop:
    """The source systems' contents at `end`, as Arrow tables (schemas above)."""

    suppliers: pa.Table
    products: pa.Table
    inventory_change: pa.Table
    inventory: pa.Table


# --------------------------------------------------------------------------- catalogue


def _suppliers(rng: np.random.Generator, n_products: int) -> tuple[pa.Table, np.ndarray]:
    n = min(200, max(3, n_products // 50))
    # Cycle through a shuffled set of lead times so even 3 suppliers differ.
    lead = np.resize(rng.permutation(LEAD_TIMES_DAYS), n)
    rng.shuffle(lead)
    ids = np.arange(1, n + 1, dtype=np.int64)
    suffixes = _SUPPLIER_SUFFIXES
    names = [f"Supplier {i:03d} {suffixes[(i - 1) % len(suffixes)]}" for i in ids]
    table = pa.table(
        {"id": ids, "name": pa.array(names, pa.string()), "lead_time_days": lead.astype(np.int64)},
        schema=SUPPLIERS_SCHEMA,
    )
    return table, lead.astype(np.int64)


def _padded_ids(ids: np.ndarray) -> pa.Array:
    width = max(6, len(str(int(ids[-1]))))
    return pc.utf8_lpad(pc.cast(pa.array(ids), pa.string()), width=width, padding="0")


def _products(rng: np.random.Generator, n: int, n_suppliers: int) -> tuple[pa.Table, np.ndarray]:
    ids = np.arange(1, n + 1, dtype=np.int64)
    padded = _padded_ids(ids)
    adjective = pa.array(_ADJECTIVES).take(pa.array(rng.integers(0, len(_ADJECTIVES), n)))
    noun = pa.array(_NOUNS).take(pa.array(rng.integers(0, len(_NOUNS), n)))
    # Built in Arrow so naming 10M products stays a C++ loop.
    names = pc.binary_join_element_wise("Product ", padded, " ", adjective, " ", noun, "")
    skus = pc.binary_join_element_wise("SKU-", padded, "")
    price = np.round(np.clip(np.exp(rng.normal(3.0, 0.9, n)), 1.0, 200.0), 2)
    supplier_idx = rng.integers(0, n_suppliers, n)
    table = pa.table(
        {
            "id": ids,
            "name": names,
            "sku": skus,
            "price": price,
            "supplier_id": supplier_idx.astype(np.int64) + 1,
        },
        schema=PRODUCTS_SCHEMA,
    )
    return table, supplier_idx


# --------------------------------------------------------------------------- demand model


@dataclass
class _Demand:
    """Per-product demand parameters (index = pid - 1)."""

    weight_cum: np.ndarray  # cumulative popularity, last element 1.0
    lumpy: np.ndarray  # bool: bulk orders possible
    unit_rate: np.ndarray  # true expected units per day (average week)


def _demand(rng: np.random.Generator, n: int, sales_per_day: float) -> _Demand:
    rank = rng.permutation(n) + 1
    weight = 1.0 / rank.astype(np.float64) ** ZIPF_EXPONENT
    weight /= weight.sum()
    tail = rank > max(1, int(n * TAIL_START_QUANTILE))
    lumpy = tail & (rng.random(n) < LUMPY_SHARE_OF_TAIL)
    base_units = float(QTY_VALUES @ QTY_PROBS)
    bulk_units = (BULK_MIN + BULK_MAX) / 2
    units_per_event = np.where(lumpy, (1 - BULK_PROB) * base_units + BULK_PROB * bulk_units, base_units)
    weight_cum = np.cumsum(weight)
    weight_cum[-1] = 1.0
    return _Demand(weight_cum, lumpy, sales_per_day * weight * units_per_event)


def _draw_sales(
    rng: np.random.Generator, demand: _Demand, mean_events: float, customers: int, hour_start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One hour of sale demand: (product index, quantity, timestamp, customer_id)."""
    n = int(rng.poisson(mean_events))
    # Poisson splitting: a Poisson total spread by popularity = independent Poisson per product.
    # Sorted needles keep the lookup cache-friendly on 10M-product catalogues.
    idx = np.searchsorted(demand.weight_cum, np.sort(rng.random(n)), side="right")
    idx = np.minimum(idx, len(demand.weight_cum) - 1)
    qty = rng.choice(QTY_VALUES, size=n, p=QTY_PROBS)
    bulk = demand.lumpy[idx] & (rng.random(n) < BULK_PROB)
    qty[bulk] = rng.integers(BULK_MIN, BULK_MAX + 1, int(bulk.sum()))
    ts = hour_start + rng.integers(1, HOUR + 1, n)
    customer = rng.integers(1, customers + 1, n)
    return idx, qty.astype(np.int64), ts.astype(np.int64), customer.astype(np.int64)


# --------------------------------------------------------------------------- replenishment


@dataclass
class _Policy:
    """Per-product (s, Q) policy the shop runs on its own, imperfect, demand estimate."""

    reorder_point: np.ndarray
    order_qty: np.ndarray
    lead_days: np.ndarray
    initial_stock: np.ndarray


def _policy(rng: np.random.Generator, demand: _Demand, lead_days: np.ndarray) -> _Policy:
    n = len(lead_days)
    # Estimation error is what makes some products under-stocked and run out.
    estimate = demand.unit_rate * rng.lognormal(0.0, RATE_ERROR_SIGMA, n)
    safety = rng.uniform(*SAFETY_DAYS, n) + lead_days * rng.uniform(*SAFETY_LEAD_FACTOR, n)
    cover_demand = estimate * (lead_days + safety)
    reorder_point = np.maximum(
        1, np.ceil(cover_demand + SAFETY_Z * np.sqrt(cover_demand * VARIANCE_PER_UNIT))
    ).astype(np.int64)
    cover = rng.uniform(*COVER_DAYS, n)
    min_qty = rng.integers(*MIN_ORDER_QTY, n)
    order_qty = np.maximum(min_qty, np.ceil(estimate * cover)).astype(np.int64)
    # Start part-way through a cycle so reorders are staggered rather than synchronised.
    initial = reorder_point + np.round(order_qty * rng.uniform(0.2, 1.0, n)).astype(np.int64)
    return _Policy(reorder_point, order_qty, lead_days, initial)


@dataclass
class _Deliveries:
    """Orders in transit, bucketed by the simulation hour in which they arrive."""

    hours: int
    buckets: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def schedule(self, idx: np.ndarray, qty: np.ndarray, ts: np.ndarray, start_ts: int) -> None:
        arrival_hour = (ts - start_ts - 1) // HOUR
        inside = arrival_hour < self.hours  # later ones are still pending at `end`
        idx, qty, ts, arrival_hour = idx[inside], qty[inside], ts[inside], arrival_hour[inside]
        for h in np.unique(arrival_hour):
            sel = arrival_hour == h
            self.buckets.setdefault(int(h), []).append((idx[sel], qty[sel], ts[sel]))

    def pop(self, hour: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = self.buckets.pop(hour, [])
        if not parts:
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        return tuple(np.concatenate(p) for p in zip(*parts))  # type: ignore[return-value]


# --------------------------------------------------------------------------- settlement


def _settle(stock: np.ndarray, idx: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Apply movements (sorted by product, then time) to `stock`, losing unmet demand.

    Returns the quantity actually moved per event: the restock quantity, or the units
    served for a sale (0 when the sale was lost). Stock follows s_k = max(s_{k-1} + d_k, 0)
    per product, i.e. the unclipped running sum reflected at zero, which is computed in
    closed form: s_k = S_k - min(0, min_{j<=k} S_j).
    """
    n = len(idx)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    group = np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(np.r_[starts, n]))
    opening = stock[idx[starts]]
    running = np.cumsum(delta)
    unclipped = running + (opening - (running[starts] - delta[starts]))[group]
    # Grouped running minimum: shift each later group below all earlier ones, then undo.
    span = int(unclipped.max() - unclipped.min()) + 1
    if span * len(starts) >= 2**62:
        raise OverflowError("stock levels too large for the grouped running minimum")
    offset = group * span
    run_min = np.minimum.accumulate(unclipped - offset) + offset
    after = unclipped - np.minimum(run_min, 0)
    before = np.empty_like(after)
    before[1:] = after[:-1]
    before[starts] = opening
    last = np.r_[starts[1:] - 1, n - 1]
    stock[idx[last]] = after[last]
    return np.abs(after - before)


# --------------------------------------------------------------------------- simulation


# Compact dtypes for accumulated events: benchmark-tier histories hold 100M+ of them.
_EVENT_DTYPES = {"idx": np.int32, "kind": np.int8, "qty": np.int64, "ts": np.int64, "customer": np.int32}


@dataclass
class _Events:
    """Accumulated event chunks per column; concatenated once at the end."""

    chunks: dict[str, list[np.ndarray]] = field(default_factory=lambda: {name: [] for name in _EVENT_DTYPES})

    def add(self, **columns: np.ndarray) -> None:
        for name, arr in columns.items():
            self.chunks[name].append(arr.astype(_EVENT_DTYPES[name], copy=False))

    def concat(self) -> dict[str, np.ndarray]:
        """Columns as int64 (kind as int8), in the order the events were added."""
        out = {}
        for name, dtype in _EVENT_DTYPES.items():
            parts = self.chunks.pop(name)
            arr = np.concatenate(parts) if parts else np.empty(0, dtype)
            out[name] = arr if name == "kind" else arr.astype(np.int64, copy=False)
        return out


def _hourly_means(start_ts: int, hours: int, sales_per_day: float) -> np.ndarray:
    hour_starts = start_ts + np.arange(hours, dtype=np.int64) * HOUR
    weekday = (hour_starts // DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    hour_of_day = (hour_starts % DAY) // HOUR
    return sales_per_day / 24.0 * WEEKLY[weekday] * DIURNAL[hour_of_day]


@dataclass
class _Simulation:
    """Mutable state of the shop while it is stepped hour by hour."""

    rng: np.random.Generator
    spec: ShopSpec
    start_ts: int
    demand: _Demand
    policy: _Policy
    stock: np.ndarray
    pending: np.ndarray  # bool: an order is in transit
    deliveries: _Deliveries
    events: _Events = field(default_factory=_Events)

    def step(self, hour: int, mean_events: float) -> None:
        hour_start = self.start_ts + hour * HOUR
        s_idx, s_qty, s_ts, s_cust = _draw_sales(
            self.rng, self.demand, mean_events, self.spec.customers, hour_start
        )
        r_idx, r_qty, r_ts = self.deliveries.pop(hour)
        if len(s_idx) + len(r_idx) == 0:
            return
        idx = np.concatenate([r_idx, s_idx])
        kind = np.repeat(np.array([_RESTOCK, _SALE], np.int8), [len(r_idx), len(s_idx)])
        qty = np.concatenate([r_qty, s_qty])
        ts = np.concatenate([r_ts, s_ts])
        customer = np.concatenate([np.zeros(len(r_idx), np.int64), s_cust])
        order = np.lexsort((kind, ts, idx))
        idx, kind, qty, ts, customer = (a[order] for a in (idx, kind, qty, ts, customer))

        moved = _settle(self.stock, idx, np.where(kind == _SALE, -qty, qty))
        kept = moved > 0  # lost sales leave no event
        self.events.add(idx=idx[kept], kind=kind[kept], qty=moved[kept], ts=ts[kept], customer=customer[kept])
        self.pending[r_idx] = False
        self._reorder(np.unique(idx), placed_at=hour_start + HOUR)

    def _reorder(self, touched: np.ndarray, placed_at: int) -> None:
        """Order for products now below their reorder point with nothing in transit.

        Orders go out when the hour's movements are booked (`placed_at`) and land a lead
        time plus a few hours later.
        """
        policy = self.policy
        below = self.stock[touched] < policy.reorder_point[touched]
        reorder = touched[below & ~self.pending[touched]]
        if len(reorder) == 0:
            return
        self.pending[reorder] = True
        jitter = self.rng.integers(DELIVERY_JITTER_S[0], DELIVERY_JITTER_S[1] + 1, len(reorder))
        arrival = placed_at + policy.lead_days[reorder] * DAY + jitter
        self.deliveries.schedule(reorder, policy.order_qty[reorder], arrival, self.start_ts)


def _assign_ids(rng: np.random.Generator, ev: dict[str, np.ndarray], end_ts: int) -> np.ndarray:
    """Order events by arrival; a few sales arrive hours after their timestamp."""
    n = len(ev["ts"])
    late = (ev["kind"] == _SALE) & (rng.random(n) < LATE_SHARE)
    delay = rng.integers(LATE_DELAY_S[0], LATE_DELAY_S[1] + 1, n)
    arrival = np.where(late, np.minimum(ev["ts"] + delay, end_ts), ev["ts"])
    return np.lexsort((ev["idx"], ev["ts"], arrival))


def _last_event_ts(idx: np.ndarray, ts: np.ndarray, n_products: int, start_ts: int) -> np.ndarray:
    updated = np.full(n_products, start_ts, dtype=np.int64)
    if len(idx):
        order = np.lexsort((ts, idx))
        s_idx, s_ts = idx[order], ts[order]
        last = np.r_[s_idx[1:] != s_idx[:-1], True]
        updated[s_idx[last]] = s_ts[last]
    return updated


def _validate(spec: ShopSpec) -> int:
    if spec.end is None:
        raise ValueError("ShopSpec.end must be resolved to a tz-aware datetime before simulating")
    if spec.end.tzinfo is None or spec.end.utcoffset() is None:
        raise ValueError("ShopSpec.end must be timezone-aware")
    if spec.products < 1 or spec.customers < 1 or spec.days < 1 or spec.sales_per_day < 0:
        raise ValueError(f"invalid ShopSpec: {spec}")
    if max(spec.products, spec.customers) >= 2**31:
        raise ValueError("products and customers must fit in int32")
    return math.floor(spec.end.timestamp())


def simulate_shop(spec: ShopSpec, progress: Callable[[int, int], None] | None = None) -> Shop:
    """Simulate `spec.days` of the shop ending at `spec.end`; deterministic per spec."""
    end_ts = _validate(spec)
    start_ts = end_ts - spec.days * DAY
    hours = spec.days * 24
    rng = np.random.default_rng(spec.seed)

    suppliers, supplier_lead = _suppliers(rng, spec.products)
    products, supplier_idx = _products(rng, spec.products, len(supplier_lead))
    demand = _demand(rng, spec.products, float(spec.sales_per_day))
    policy = _policy(rng, demand, supplier_lead[supplier_idx])

    sim = _Simulation(
        rng,
        spec,
        start_ts,
        demand,
        policy,
        stock=policy.initial_stock.copy(),
        pending=np.zeros(spec.products, dtype=bool),
        deliveries=_Deliveries(hours),
    )
    means = _hourly_means(start_ts, hours, float(spec.sales_per_day))
    for hour in range(hours):
        sim.step(hour, float(means[hour]))
        if progress is not None:
            progress(hour + 1, hours)

    ev = sim.events.concat()
    order = _assign_ids(rng, ev, end_ts)
    ev = {k: v[order] for k, v in ev.items()}
    is_restock = ev["kind"] == _RESTOCK
    inventory_change = pa.table(
        {
            "id": np.arange(1, len(order) + 1, dtype=np.int64),
            "pid": ev["idx"] + 1,
            "type": pa.array(["restock", "sale"]).take(pa.array(ev["kind"])),
            "quantity": ev["qty"],
            "timestamp": ev["ts"],
            "customer_id": pa.array(ev["customer"], pa.int64(), mask=is_restock),
        },
        schema=INVENTORY_CHANGE_SCHEMA,
    )
    inventory = pa.table(
        {
            "pid": np.arange(1, spec.products + 1, dtype=np.int64),
            "quantity": sim.stock.astype(np.int64),
            "updated_at": _last_event_ts(ev["idx"], ev["ts"], spec.products, start_ts),
        },
        schema=INVENTORY_SCHEMA,
    )
    return Shop(
        suppliers=suppliers, products=products, inventory_change=inventory_change, inventory=inventory
    )


# --------------------------------------------------------------------------- SQLite output

_BATCH_ROWS = 100_000


def _rows(table: pa.Table, start: int, length: int) -> Iterator[tuple]:
    chunk = table.slice(start, length)
    return zip(*(chunk.column(i).to_pylist() for i in range(chunk.num_columns)))


def _write_sqlite(path: Path, tables: Iterable[tuple[str, str, pa.Table]]) -> None:
    """Write tables to `<path>.tmp` in one transaction, then swap it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        # The temp file is discarded on failure, so durability during the load is not needed.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        for name, ddl, table in tables:
            conn.execute(ddl)
            insert = f"INSERT INTO {name} VALUES ({', '.join('?' * table.num_columns)})"
            for start in range(0, table.num_rows, _BATCH_ROWS):
                conn.executemany(insert, _rows(table, start, _BATCH_ROWS))
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    conn.close()
    os.replace(tmp, path)


def _transaction_tables(shop: Shop) -> list[tuple[str, str, pa.Table]]:
    return [
        ("inventory_change", TRANSACTIONS_DDL["inventory_change"], shop.inventory_change),
        ("products", TRANSACTIONS_DDL["products"], shop.products),
        ("suppliers", TRANSACTIONS_DDL["suppliers"], shop.suppliers),
    ]


def _inventory_tables(shop: Shop) -> list[tuple[str, str, pa.Table]]:
    return [("inventory", INVENTORY_DDL["inventory"], shop.inventory)]


def write_transactions_to_sqlite(shop: Shop, transactions_db: Path) -> None:
    """Write the shop's transaction database as a SQLite file, replacing it."""
    _write_sqlite(Path(transactions_db), _transaction_tables(shop))


def write_inventory_to_sqlite(shop: Shop, inventory_db: Path) -> None:
    """Write the shop's inventory service as a SQLite file, replacing it."""
    _write_sqlite(Path(inventory_db), _inventory_tables(shop))


def write_shop_to_sqlite(shop: Shop, transactions_db: Path, inventory_db: Path) -> None:
    """Write the shop into the embedded (SQLite) transaction and inventory databases."""
    transactions_db, inventory_db = Path(transactions_db), Path(inventory_db)
    if transactions_db.resolve() == inventory_db.resolve():
        # one file holds both services
        _write_sqlite(transactions_db, _transaction_tables(shop) + _inventory_tables(shop))
        return
    write_transactions_to_sqlite(shop, transactions_db)
    write_inventory_to_sqlite(shop, inventory_db)
