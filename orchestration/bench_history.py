"""A shop's history written straight into the landing layout, for `stockout bench`.

Simulating 90 days of a 10-million-product shop through the source systems and landing
would take hours, so the benchmark writes what landing would have written: one sales and
one restocks file per day (`changes_<first id>_<last id>.parquet`), one inventory snapshot
per day (`snapshot_<instant>.parquet`, read at each midnight), and the catalogue files. The
simulator's vectorised pieces draw the events: skewed (Zipf) popularity, Poisson sales at a
flat hourly rate, restocks a supplier lead time after stock falls below a reorder point,
lost sales when stock is out, and a little shrinkage found at each snapshot, so every
snapshot is the previous one plus the movements between them minus that shrinkage. Only
the current day's events are in memory at a time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from orchestration.landing import SNAPSHOT_SCHEMA, SNAPSHOT_STAMP, write_parquet_atomically
from orchestration.simulator import (
    DAY,
    HOUR,
    _Deliveries,
    _Demand,
    _demand,
    _draw_sales,
    _Policy,
    _policy,
    _products,
    _settle,
    _suppliers,
)
from orchestration.sources import INVENTORY_CHANGE_SCHEMA, PRODUCTS_SCHEMA, SUPPLIERS_SCHEMA

SHRINKAGE_SHARE = 0.0005  # products found one unit short at each daily snapshot
CUSTOMERS_PER_PRODUCT = 0.1  # the benchmark tier's 1M customers for 10M products

_RESTOCK, _SALE = 0, 1  # restocks sort before sales at the same second


@dataclass(frozen=True)
class HistorySpec:
    """What to generate: `days` of history ending at `end_epoch` (a UTC midnight)."""

    products: int
    sales_per_day: int
    days: int
    end_epoch: int
    seed: int = 42

    @property
    def start_epoch(self) -> int:
        return self.end_epoch - self.days * DAY

    @property
    def customers(self) -> int:
        return max(1, int(self.products * CUSTOMERS_PER_PRODUCT))


@dataclass
class Movements:
    """Events of one period, in id order (the order the transaction database assigned)."""

    id: np.ndarray
    pid: np.ndarray
    kind: np.ndarray  # _RESTOCK or _SALE
    quantity: np.ndarray
    timestamp: np.ndarray
    customer_id: np.ndarray

    def of_kind(self, kind: int) -> pa.Table:
        """The events of one kind with INVENTORY_CHANGE_SCHEMA's columns."""
        chosen = self.kind == kind
        rows = int(chosen.sum())
        return pa.table(
            {
                "id": self.id[chosen],
                "pid": self.pid[chosen],
                "type": pa.repeat(pa.scalar("sale" if kind == _SALE else "restock"), rows),
                "quantity": self.quantity[chosen],
                "timestamp": self.timestamp[chosen],
                "customer_id": pa.array(
                    self.customer_id[chosen], pa.int64(), mask=np.full(rows, kind != _SALE)
                ),
            },
            schema=INVENTORY_CHANGE_SCHEMA,
        )

    def all_rows(self) -> pa.Table:
        """Every event, sales and restocks together, ordered by id (the source table's rows)."""
        return pa.concat_tables([self.of_kind(_SALE), self.of_kind(_RESTOCK)]).sort_by("id")


@dataclass
class LandedHistory:
    """What was generated: the catalogue, the final stock, and where each day's files went."""

    products: pa.Table
    suppliers: pa.Table
    stock: pa.Table  # the inventory service at the end of the history (INVENTORY_SCHEMA)
    high_water_mark: int  # the highest event id landed
    day_files: list[list[Path]] = field(default_factory=list)  # sales + restocks file per day
    snapshot_files: list[Path] = field(default_factory=list)  # at start_epoch + k days, k = 0..days
    events: int = 0


class _Shop:
    """The simulated shop's state, stepped a day (or an hour) at a time."""

    def __init__(self, spec: HistorySpec) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        suppliers, supplier_lead = _suppliers(self.rng, spec.products)
        products, supplier_idx = _products(self.rng, spec.products, len(supplier_lead))
        self.suppliers, self.products = suppliers, products
        self.demand: _Demand = _demand(self.rng, spec.products, float(spec.sales_per_day))
        self.policy: _Policy = _policy(self.rng, self.demand, supplier_lead[supplier_idx])
        self.stock = self.policy.initial_stock.copy()
        self.updated_at = np.full(spec.products, spec.start_epoch, dtype=np.int64)
        self.pending = np.zeros(spec.products, dtype=bool)
        # one bucket per hour of the history and of the benchmark's new hour
        self.deliveries = _Deliveries(hours=spec.days * 24 + 1)
        self.next_id = 1

    def advance(self, first_hour: int, hours: int) -> Movements:
        """The events of `hours` hours from hour `first_hour` of the history, settled against
        stock; orders placed at the end of the period arrive a lead time later."""
        spec, start = self.spec, self.spec.start_epoch
        mean_events = spec.sales_per_day / 24.0  # a flat rate: every hour is an average hour
        parts = [
            _draw_sales(self.rng, self.demand, mean_events, spec.customers, start + hour * HOUR)
            for hour in range(first_hour, first_hour + hours)
        ]
        sales_idx, sales_qty, sales_ts, customers = (np.concatenate(column) for column in zip(*parts))
        arrivals = [self.deliveries.pop(hour) for hour in range(first_hour, first_hour + hours)]
        restock_idx, restock_qty, restock_ts = (np.concatenate(column) for column in zip(*arrivals))

        idx = np.concatenate([restock_idx, sales_idx])
        kind = np.repeat(np.array([_RESTOCK, _SALE], np.int8), [len(restock_idx), len(sales_idx)])
        qty = np.concatenate([restock_qty, sales_qty])
        ts = np.concatenate([restock_ts, sales_ts])
        customer = np.concatenate([np.zeros(len(restock_idx), np.int64), customers])
        by_product = np.lexsort((kind, ts, idx))
        idx, kind, qty, ts, customer = (a[by_product] for a in (idx, kind, qty, ts, customer))
        moved = _settle(self.stock, idx, np.where(kind == _SALE, -qty, qty))
        kept = moved > 0  # a lost sale leaves no event
        idx, kind, qty, ts, customer = idx[kept], kind[kept], moved[kept], ts[kept], customer[kept]
        np.maximum.at(self.updated_at, idx, ts)
        self.pending[restock_idx] = False
        self._reorder(np.unique(idx), placed_at=start + (first_hour + hours) * HOUR)

        by_time = np.lexsort((idx, ts))  # ids follow time, as the source database assigns them
        ids = np.arange(self.next_id, self.next_id + len(by_time), dtype=np.int64)
        self.next_id += len(by_time)
        return Movements(
            id=ids,
            pid=idx[by_time].astype(np.int64) + 1,
            kind=kind[by_time],
            quantity=qty[by_time].astype(np.int64),
            timestamp=ts[by_time].astype(np.int64),
            customer_id=customer[by_time].astype(np.int64),
        )

    def _reorder(self, touched: np.ndarray, placed_at: int) -> None:
        below = self.stock[touched] < self.policy.reorder_point[touched]
        reorder = touched[below & ~self.pending[touched]]
        if len(reorder) == 0:
            return
        self.pending[reorder] = True
        jitter = self.rng.integers(1, 6 * HOUR + 1, len(reorder))
        arrival = placed_at + self.policy.lead_days[reorder] * DAY + jitter
        self.deliveries.schedule(reorder, self.policy.order_qty[reorder], arrival, self.spec.start_epoch)

    def shrink(self, at: int) -> None:
        """A few products lose a unit between movements (found by the next snapshot)."""
        count = int(self.rng.binomial(self.spec.products, SHRINKAGE_SHARE))
        lost = np.unique(self.rng.integers(0, self.spec.products, count))
        lost = lost[self.stock[lost] > 0]
        self.stock[lost] -= 1
        self.updated_at[lost] = at

    def inventory(self) -> pa.Table:
        return pa.table(
            {
                "pid": np.arange(1, self.spec.products + 1, dtype=np.int64),
                "quantity": self.stock.astype(np.int64),
                "updated_at": self.updated_at.copy(),
            }
        )


def _write_snapshot(shop: _Shop, folder: Path, at: int) -> Path:
    inventory = shop.inventory()
    table = inventory.append_column("snapshot_at", pa.array(np.full(inventory.num_rows, at, np.int64)))
    stamp = np.datetime64(at, "s").astype(object).strftime(SNAPSHOT_STAMP)
    path = folder / f"snapshot_{stamp}.parquet"
    write_parquet_atomically(table.cast(SNAPSHOT_SCHEMA), SNAPSHOT_SCHEMA, path)
    return path


def _write_day(movements: Movements, landing: Path) -> list[Path]:
    """One file per movement folder covering the day's id range, as landing names them."""
    first, last = int(movements.id[0]), int(movements.id[-1])
    paths = []
    for folder, kind in (("sales", _SALE), ("restocks", _RESTOCK)):
        path = landing / folder / f"changes_{first:012d}_{last:012d}.parquet"
        write_parquet_atomically(movements.of_kind(kind), INVENTORY_CHANGE_SCHEMA, path)
        paths.append(path)
    return paths


def generate_landed_history(
    spec: HistorySpec, landing: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[LandedHistory, Movements]:
    """Write `spec.days` of history into `landing` (the landing folder of a data folder) and
    return what was written, plus the events of the hour after the history, which are the
    benchmark's new data (not landed: they go into the transaction database)."""
    shop = _Shop(spec)
    history = LandedHistory(
        products=shop.products.cast(PRODUCTS_SCHEMA),
        suppliers=shop.suppliers.cast(SUPPLIERS_SCHEMA),
        stock=pa.table({}),
        high_water_mark=0,
    )
    snapshots = landing / "inventory_snapshots"
    history.snapshot_files.append(_write_snapshot(shop, snapshots, spec.start_epoch))
    for day in range(spec.days):
        movements = shop.advance(day * 24, 24)
        if len(movements.id):
            history.day_files.append(_write_day(movements, landing))
            history.events += len(movements.id)
        else:
            history.day_files.append([])
        day_end = spec.start_epoch + (day + 1) * DAY
        shop.shrink(at=day_end)
        history.snapshot_files.append(_write_snapshot(shop, snapshots, day_end))
        if progress is not None:
            progress(day + 1, spec.days)
    for name, table in (("products", history.products), ("suppliers", history.suppliers)):
        write_parquet_atomically(table, table.schema, landing / name / f"{name}.parquet")
    history.stock = shop.inventory()
    history.high_water_mark = shop.next_id - 1
    new_hour = shop.advance(spec.days * 24, 1)
    return history, new_hour


def link_recent_history(history: LandedHistory, days: int, landing: Path) -> None:
    """Hard-link the last `days` days of `history` (events, the snapshots read in them, the
    catalogue) into another landing folder: the same shop with a shorter history."""
    recent_snapshots = history.snapshot_files[-(days + 1) :]
    recent_events = [path for files in history.day_files[-days:] for path in files]
    source_landing = recent_snapshots[0].parent.parent
    catalogue = [source_landing / name / f"{name}.parquet" for name in ("products", "suppliers")]
    for path in [*recent_snapshots, *recent_events, *catalogue]:
        target = landing / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
