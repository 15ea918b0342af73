"""Tests of the shop simulator (DESIGN §2): contracts, internal consistency and realism."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from orchestration.simulator import TIERS, Shop, ShopSpec, simulate_shop, write_shop_to_sqlite

# Deliberately not on an hour boundary; 2025-06-02 is a Monday.
END = datetime(2025, 6, 2, 12, 30, tzinfo=timezone.utc)
END_TS = int(END.timestamp())
DAY = 86_400

TIER1 = replace(TIERS["1"], end=END)
MEDIUM = ShopSpec(products=2_000, customers=500, sales_per_day=2_000, days=28, end=END)

EXPECTED_SCHEMAS = {
    "suppliers": [("id", pa.int64()), ("name", pa.string()), ("lead_time_days", pa.int64())],
    "products": [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("sku", pa.string()),
        ("price", pa.float64()),
        ("supplier_id", pa.int64()),
    ],
    "inventory_change": [
        ("id", pa.int64()),
        ("pid", pa.int64()),
        ("type", pa.string()),
        ("quantity", pa.int64()),
        ("timestamp", pa.int64()),
        ("customer_id", pa.int64()),
    ],
    "inventory": [("pid", pa.int64()), ("quantity", pa.int64()), ("updated_at", pa.int64())],
}

# (name, declared type, notnull, pk) per column, as PRAGMA table_info reports them.
EXPECTED_SQLITE = {
    "inventory_change": [
        ("id", "INTEGER", 0, 1),
        ("pid", "INTEGER", 1, 0),
        ("type", "TEXT", 1, 0),
        ("quantity", "INTEGER", 1, 0),
        ("timestamp", "INTEGER", 1, 0),
        ("customer_id", "INTEGER", 0, 0),
    ],
    "products": [
        ("id", "INTEGER", 0, 1),
        ("name", "TEXT", 1, 0),
        ("sku", "TEXT", 1, 0),
        ("price", "NUMERIC", 1, 0),
        ("supplier_id", "INTEGER", 0, 0),
    ],
    "suppliers": [("id", "INTEGER", 0, 1), ("name", "TEXT", 1, 0), ("lead_time_days", "INTEGER", 1, 0)],
    "inventory": [("pid", "INTEGER", 0, 1), ("quantity", "INTEGER", 1, 0), ("updated_at", "INTEGER", 1, 0)],
}


@pytest.fixture(scope="module")
def tier1() -> Shop:
    return simulate_shop(TIER1)


@pytest.fixture(scope="module")
def medium() -> Shop:
    return simulate_shop(MEDIUM)


def _events(shop: Shop) -> pd.DataFrame:
    return shop.inventory_change.to_pandas()


def _stock_path(shop: Shop) -> pd.DataFrame:
    """Events in time order per product with the stock after each, reconstructed
    backwards from the inventory at `end` (restocks first on a tied second)."""
    ev = _events(shop)
    ev["delta"] = np.where(ev["type"] == "sale", -ev["quantity"], ev["quantity"])
    ev["is_sale"] = (ev["type"] == "sale").astype(int)
    ev = ev.sort_values(["pid", "timestamp", "is_sale", "id"]).reset_index(drop=True)
    final = shop.inventory.to_pandas().set_index("pid")["quantity"]
    net = ev.groupby("pid")["delta"].sum().reindex(final.index, fill_value=0)
    initial = final - net
    ev["initial"] = initial.loc[ev["pid"]].to_numpy()
    ev["after"] = ev["initial"] + ev.groupby("pid")["delta"].cumsum()
    return ev


def _units_sold_by_product(shop: Shop) -> pd.Series:
    ev = _events(shop)
    return ev[ev["type"] == "sale"].groupby("pid")["quantity"].sum().sort_values(ascending=False)


# ------------------------------------------------------------------ API and determinism


def test_tiers_match_design_scale() -> None:
    assert (TIERS["1"].products, TIERS["1"].customers, TIERS["1"].sales_per_day) == (250, 100, 50)
    bench = TIERS["bench"]
    assert (bench.products, bench.customers, bench.sales_per_day) == (10_000_000, 1_000_000, 5_000_000)
    assert TIERS["1"].end is None and TIERS["1"].days == 42


def test_end_must_be_resolved() -> None:
    with pytest.raises(ValueError):
        simulate_shop(ShopSpec())
    with pytest.raises(ValueError):
        simulate_shop(ShopSpec(end=datetime(2025, 6, 2)))  # naive datetime


def test_same_spec_gives_identical_tables(tier1: Shop) -> None:
    again = simulate_shop(TIER1)
    for name in ("suppliers", "products", "inventory_change", "inventory"):
        assert getattr(again, name).equals(getattr(tier1, name)), name


def test_different_seed_gives_different_history(tier1: Shop) -> None:
    other = simulate_shop(replace(TIER1, seed=TIER1.seed + 1))
    assert not other.inventory_change.equals(tier1.inventory_change)
    assert not other.products.equals(tier1.products)


def test_progress_reports_every_hour() -> None:
    calls: list[tuple[int, int]] = []
    simulate_shop(replace(TIER1, days=2), progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (48, 48)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


# ------------------------------------------------------------------ schemas and invariants


@pytest.mark.parametrize("name", list(EXPECTED_SCHEMAS))
def test_table_schemas_are_exact(tier1: Shop, name: str) -> None:
    schema = getattr(tier1, name).schema
    assert [(f.name, f.type) for f in schema] == EXPECTED_SCHEMAS[name]


def test_catalogue(tier1: Shop) -> None:
    suppliers = tier1.suppliers.to_pandas()
    products = tier1.products.to_pandas()
    assert len(suppliers) == 5  # max(3, 250 // 50)
    assert suppliers["id"].tolist() == list(range(1, 6))
    assert suppliers["name"].str.fullmatch(r"Supplier \d{3} .+").all()
    assert set(suppliers["lead_time_days"]) <= {2, 3, 5, 7, 10, 14}
    assert suppliers["lead_time_days"].nunique() >= 2
    assert products["id"].tolist() == list(range(1, 251))
    assert products["name"].iloc[122].startswith("Product 000123 ")
    assert products["sku"].iloc[122] == "SKU-000123"
    assert products["name"].str.fullmatch(r"Product \d{6} \w+ \w+").all()
    assert products["price"].between(1.0, 200.0).all()
    assert np.allclose(products["price"], products["price"].round(2))
    assert products["supplier_id"].isin(suppliers["id"]).all()


def test_supplier_count_is_capped() -> None:
    shop = simulate_shop(ShopSpec(products=20_000, customers=10, sales_per_day=10, days=1, end=END))
    assert shop.suppliers.num_rows == 200


def test_event_invariants(tier1: Shop) -> None:
    ev = _events(tier1)
    start_ts = END_TS - TIER1.days * DAY
    assert len(ev) > 0
    assert ev["id"].tolist() == list(range(1, len(ev) + 1))
    assert set(ev["type"]) == {"sale", "restock"}
    assert (ev["quantity"] > 0).all()
    assert ev["pid"].between(1, TIER1.products).all()
    assert ((ev["timestamp"] > start_ts) & (ev["timestamp"] <= END_TS)).all()
    sales, restocks = ev[ev["type"] == "sale"], ev[ev["type"] == "restock"]
    assert restocks["customer_id"].isna().all()
    assert sales["customer_id"].notna().all()
    assert sales["customer_id"].between(1, TIER1.customers).all()


def test_inventory_is_consistent_with_events(tier1: Shop) -> None:
    path = _stock_path(tier1)
    inventory = tier1.inventory.to_pandas()
    assert inventory["pid"].tolist() == list(range(1, TIER1.products + 1))
    assert (inventory["quantity"] >= 0).all()
    # Initial stock implied by the history is never negative...
    assert (path["initial"] >= 0).all()
    # ...and walking the history forward from it, stock never goes negative.
    assert (path["after"] >= 0).all(), path[path["after"] < 0].head()
    last_ts = path.groupby("pid")["timestamp"].max()
    start_ts = END_TS - TIER1.days * DAY
    expected = last_ts.reindex(inventory["pid"], fill_value=start_ts).to_numpy()
    assert (inventory["updated_at"].to_numpy() == expected).all()


# ------------------------------------------------------------------ supply side


def test_restocks_arrive_a_lead_time_after_a_drop(medium: Shop) -> None:
    path = _stock_path(medium)
    lead = (
        medium.products.to_pandas()
        .merge(medium.suppliers.to_pandas(), left_on="supplier_id", right_on="id", suffixes=("", "_supplier"))
        .set_index("id")["lead_time_days"]
    )
    restocks = path[path["type"] == "restock"].copy()
    assert len(restocks) > 50
    restocks["lead_s"] = lead.loc[restocks["pid"]].to_numpy() * DAY
    start_ts = END_TS - MEDIUM.days * DAY
    # No order can arrive before a lead time has passed since the start...
    assert (restocks["timestamp"] - restocks["lead_s"] > start_ts).all()
    # ...one order is in transit at a time, so a product's restocks are a lead time apart...
    gaps = restocks.groupby("pid")["timestamp"].diff().dropna()
    assert (gaps >= restocks.loc[gaps.index, "lead_s"]).all()
    # ...and the order was triggered by a movement of that product a lead time earlier
    # (the order goes out at the end of that hour; delivery lands up to 6 h late).
    by_pid = {pid: grp["timestamp"].to_numpy() for pid, grp in path.groupby("pid")}
    for row in restocks.itertuples():
        placed_by = row.timestamp - row.lead_s
        ts = by_pid[row.pid]
        assert ((ts < placed_by) & (ts >= placed_by - 7 * 3600)).any(), row


def test_products_of_different_suppliers_see_different_lead_times(medium: Shop) -> None:
    restocked = set(_events(medium).query("type == 'restock'")["pid"])
    products = medium.products.to_pandas()
    suppliers = medium.suppliers.to_pandas().set_index("id")
    leads = suppliers.loc[products[products["id"].isin(restocked)]["supplier_id"], "lead_time_days"]
    assert leads.nunique() >= 3


def test_stockouts_happen_at_tier1(tier1: Shop) -> None:
    path = _stock_path(tier1)
    products_out = path.loc[path["after"] == 0, "pid"].nunique()
    assert products_out >= 1
    assert products_out <= 0.25 * TIER1.products  # occasional, not the norm


def test_some_products_are_out_of_stock_at_end(medium: Shop) -> None:
    quantity = medium.inventory.column("quantity").to_numpy()
    assert 0 < (quantity == 0).sum() < 0.1 * MEDIUM.products


def test_an_empty_shelf_sells_nothing_until_restocked(medium: Shop) -> None:
    path = _stock_path(medium)
    emptied = path.index[(path["after"] == 0).to_numpy()]
    following = emptied + 1
    following = following[following < len(path)]
    pids = path["pid"].to_numpy()
    same_product = pids[following] == pids[following - 1]
    next_types = path.loc[following[same_product], "type"]
    assert len(next_types) > 0
    assert (next_types == "restock").all()


def test_settle_caps_demand_at_stock_and_loses_the_rest() -> None:
    from orchestration.simulator import _settle

    stock = np.array([2, 5, 0], dtype=np.int64)
    # product 0: sell 1, sell 3 (only 1 left), sell 2 (lost), restock 10, sell 4
    # product 1: sell 5 (exactly empties), product 2: sell 1 (lost)
    idx = np.array([0, 0, 0, 0, 0, 1, 2])
    delta = np.array([-1, -3, -2, 10, -4, -5, -1], dtype=np.int64)
    moved = _settle(stock, idx, delta)
    assert moved.tolist() == [1, 1, 0, 10, 4, 5, 0]
    assert stock.tolist() == [6, 0, 0]


# ------------------------------------------------------------------ demand realism


def test_popularity_is_skewed(tier1: Shop, medium: Shop) -> None:
    for shop, spec in ((tier1, TIER1), (medium, MEDIUM)):
        units = _units_sold_by_product(shop)
        top = units.iloc[: spec.products // 10].sum()
        assert top / units.sum() > 0.55, spec


def test_long_tail_is_intermittent(medium: Shop) -> None:
    ev = _events(medium)
    sales = ev[ev["type"] == "sale"]
    days_with_sales = (
        sales.assign(day=sales["timestamp"] // DAY)
        .groupby("pid")["day"]
        .nunique()
        .reindex(range(1, MEDIUM.products + 1), fill_value=0)
    )
    # Most products sell on only a few of the 28 days; a few sell every day.
    assert days_with_sales.median() < MEDIUM.days / 4
    assert (days_with_sales >= MEDIUM.days - 1).sum() >= 10


def test_some_demand_is_lumpy(medium: Shop) -> None:
    ev = _events(medium)
    sales = ev[ev["type"] == "sale"]
    assert (sales["quantity"] == 1).mean() > 0.7
    assert (sales["quantity"] >= 5).sum() > 0


def test_sales_per_day_matches_spec(tier1: Shop, medium: Shop) -> None:
    for shop, spec in ((tier1, TIER1), (medium, MEDIUM)):
        sale_events = (shop.inventory_change.column("type").to_numpy(zero_copy_only=False) == "sale").sum()
        per_day = sale_events / spec.days
        assert 0.7 * spec.sales_per_day <= per_day <= 1.3 * spec.sales_per_day, (spec, per_day)


def test_weekly_and_daily_seasonality(medium: Shop) -> None:
    ev = _events(medium)
    sales = ev[ev["type"] == "sale"]
    when = pd.to_datetime(sales["timestamp"], unit="s", utc=True)
    # Count whole UTC days only (the first and last are partial).
    whole = (when >= pd.Timestamp(END - timedelta(days=MEDIUM.days - 1)).floor("D")) & (
        when < pd.Timestamp(END).floor("D")
    )
    per_day = when[whole].dt.floor("D").value_counts()
    weekend = per_day[per_day.index.day_of_week >= 5].mean()
    weekday = per_day[per_day.index.day_of_week < 5].mean()
    assert weekend > 1.1 * weekday, (weekend, weekday)
    by_hour = when.dt.hour.value_counts()
    evening, night = by_hour.loc[[18, 19, 20, 21]].mean(), by_hour.loc[[1, 2, 3, 4]].mean()
    assert evening > 3 * night, (evening, night)


def test_late_events_exist_and_are_bounded(medium: Shop) -> None:
    ev = _events(medium).sort_values("id")
    ts = ev["timestamp"].to_numpy()
    earlier_max = np.maximum.accumulate(ts)[:-1]
    late = ts[1:] < earlier_max
    assert late.sum() > 0
    assert late.mean() < 0.02
    # A late event arrived at most 6 h after its timestamp, so it cannot trail ids
    # that arrived before it by more than that.
    assert (ts[1:] >= earlier_max - 6 * 3600).all()
    assert set(ev.loc[ev.index[1:][late], "type"]) == {"sale"}


# ------------------------------------------------------------------ SQLite output


def _table_info(db: Path, table: str) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(db) as conn:
        return [
            (name, ctype, notnull, pk)
            for _, name, ctype, notnull, _, pk in conn.execute(f"PRAGMA table_info({table})")
        ]


def test_write_shop_to_sqlite(tier1: Shop, tmp_path: Path) -> None:
    tx_db, inv_db = tmp_path / "nested" / "transactions.db", tmp_path / "inventory.db"
    write_shop_to_sqlite(tier1, tx_db, inv_db)
    with sqlite3.connect(tx_db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"inventory_change", "products", "suppliers"}
        for table in ("inventory_change", "products", "suppliers"):
            assert _table_info(tx_db, table) == EXPECTED_SQLITE[table]
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert count == getattr(tier1, table).num_rows
        first = conn.execute("SELECT * FROM inventory_change WHERE id = 1").fetchone()
        assert first == tuple(tier1.inventory_change.slice(0, 1).to_pylist()[0].values())
        nulls = conn.execute(
            "SELECT count(*) FROM inventory_change WHERE customer_id IS NULL AND type = 'restock'"
        ).fetchone()[0]
        assert (
            nulls == (tier1.inventory_change.column("type").to_numpy(zero_copy_only=False) == "restock").sum()
        )
    assert _table_info(inv_db, "inventory") == EXPECTED_SQLITE["inventory"]
    with sqlite3.connect(inv_db) as conn:
        rows = conn.execute("SELECT * FROM inventory ORDER BY pid").fetchall()
    assert rows == [tuple(r.values()) for r in tier1.inventory.to_pylist()]
    assert sorted(p.name for p in tmp_path.rglob("*.tmp")) == []


def test_write_shop_to_sqlite_replaces_existing_files(tier1: Shop, tmp_path: Path) -> None:
    tx_db, inv_db = tmp_path / "transactions.db", tmp_path / "inventory.db"
    write_shop_to_sqlite(tier1, tx_db, inv_db)
    smaller = simulate_shop(replace(TIER1, products=10, days=3))
    write_shop_to_sqlite(smaller, tx_db, inv_db)
    with sqlite3.connect(tx_db) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == 10
        assert (
            conn.execute("SELECT count(*) FROM inventory_change").fetchone()[0]
            == smaller.inventory_change.num_rows
        )
    with sqlite3.connect(inv_db) as conn:
        assert conn.execute("SELECT count(*) FROM inventory").fetchone()[0] == 10
