"""The blocking checks on the at-risk table: each rule on hand-made frames."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from orchestration import checks

AS_OF = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)


def at_risk_frame(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2026-11-21 12:00:00"] * 2),
            "product_id": [7, 9],
            "product_name": ["Mug", "Cup"],
            "sku": ["SKU-7", "SKU-9"],
            "supplier_name": ["S", "S"],
            "lead_time_days": [3, 3],
            "stock_status": ["out_of_stock", "at_risk"],
            "on_hand": [0, 4],
            "units_sold_7d": [14, 21],
            "in_stock_days_7d": [5, 7],
            "velocity_7d": [2.8, 3.0],
            "velocity_28d": [2.5, 3.0],
            "demand_rate": [2.8, 3.0],
            "trend": [1.12, 1.0],
            "days_to_stockout": [0.0, 4 / 3],
            "projected_stockout_date": [pd.Timestamp("2026-11-21").date(), pd.Timestamp("2026-11-22").date()],
            "stockout_probability_7d": [1.0, 0.99],
            "reorder_recommended": [True, True],
            "suggested_reorder_qty": [28, 26],
            "risk_rank": [1, 2],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def every_product_frame(at_risk: pd.DataFrame) -> pd.DataFrame:
    flagged = at_risk[
        ["product_id", "on_hand", "days_to_stockout", "stockout_probability_7d", "risk_rank", "demand_rate"]
    ]
    flagged = flagged.assign(is_at_risk=True)
    idle = pd.DataFrame(
        {
            "product_id": [1],
            "on_hand": [50],
            "days_to_stockout": [25.0],
            "stockout_probability_7d": [0.0],
            "risk_rank": [None],
            "demand_rate": [2.0],
            "is_at_risk": [False],
        }
    )
    return pd.concat([flagged, idle], ignore_index=True)


def test_a_good_table_passes_every_expectation() -> None:
    frame = at_risk_frame()
    assert checks.run_expectations(frame) == []
    assert checks.consistency_failures(frame, every_product_frame(frame), AS_OF) == []


def test_expectations_name_the_column_at_fault() -> None:
    failures = checks.run_expectations(at_risk_frame(stockout_probability_7d=[1.0, 1.2]))
    assert len(failures) == 1 and "stockout_probability_7d" in failures[0]
    failures = checks.run_expectations(at_risk_frame(product_id=[7, 7]))
    assert any("product_id" in failure and "unique" in failure for failure in failures)
    failures = checks.run_expectations(at_risk_frame(stock_status=["gone", "at_risk"]))
    assert any("stock_status" in failure for failure in failures)
    failures = checks.run_expectations(at_risk_frame().drop(columns=["trend"]))
    assert any("table" in failure for failure in failures)


def test_consistency_rules() -> None:
    frame = at_risk_frame(risk_rank=[1, 3])
    assert any(
        "risk_rank" in f for f in checks.consistency_failures(frame, every_product_frame(frame), AS_OF)
    )
    frame = at_risk_frame(stock_status=["at_risk", "at_risk"])
    assert any(
        "stock_status" in f for f in checks.consistency_failures(frame, every_product_frame(frame), AS_OF)
    )
    frame = at_risk_frame()
    later = datetime(2026, 11, 21, 13, tzinfo=timezone.utc)
    assert any("as_of" in f for f in checks.consistency_failures(frame, every_product_frame(frame), later))
    every = every_product_frame(frame)
    every.loc[every["product_id"] == 9, "on_hand"] = 5
    assert any("on_hand of products [9]" in f for f in checks.consistency_failures(frame, every, AS_OF))
    every = every_product_frame(frame)
    every.loc[every["product_id"] == 1, "is_at_risk"] = True
    assert any("disagree" in f for f in checks.consistency_failures(frame, every, AS_OF))


def test_volume_check() -> None:
    assert checks.volume_failure(40, None, 5) is None  # nothing published yet
    assert checks.volume_failure(3, 8, 5) is None  # too few to judge
    assert checks.volume_failure(50, 10, 5) is None  # exactly 5x is allowed
    assert "from 10 to 51" in checks.volume_failure(51, 10, 5)
    assert "--accept-anomalies" in checks.volume_failure(0, 40, 5)  # a wipe
