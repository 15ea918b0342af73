"""Where things are and what "now" is, from the environment (DESIGN.md §2, §3).

Read at run time, never at import, so that tests and the CLI can point a process at another
data folder by setting variables before they call in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    transactions_url: str
    inventory_url: str
    snapshot_interval_hours: float
    catalog_interval_hours: float
    mart_retention_hours: float
    max_at_risk_change_factor: float
    sensor_interval_seconds: int
    future_tolerance_hours: float
    max_event_age_hours: float
    late_commit_lookback_ids: int

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "warehouse.duckdb"

    @property
    def mart_dir(self) -> Path:
        return self.data_dir / "mart"

    @property
    def mart_database(self) -> Path:
        return self.mart_dir / "analytics.duckdb"

    @property
    def warehouse_lock_path(self) -> Path:
        return self.data_dir / "warehouse" / "refresh.lock"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"


def load_settings() -> Settings:
    """The settings in force for this process: environment variables over defaults."""
    data_dir = Path(os.environ.get("STOCKOUT_DATA_DIR") or PROJECT_DIR / "data").resolve()
    sources = data_dir / "sources"
    return Settings(
        data_dir=data_dir,
        transactions_url=os.environ.get("STOCKOUT_TRANSACTIONS_URL")
        or f"sqlite:///{sources / 'transactions.sqlite'}",
        inventory_url=os.environ.get("STOCKOUT_INVENTORY_URL") or f"sqlite:///{sources / 'inventory.sqlite'}",
        snapshot_interval_hours=float(os.environ.get("STOCKOUT_SNAPSHOT_INTERVAL_HOURS", "24")),
        catalog_interval_hours=float(os.environ.get("STOCKOUT_CATALOG_INTERVAL_HOURS", "24")),
        mart_retention_hours=float(os.environ.get("STOCKOUT_MART_RETENTION_HOURS", "24")),
        max_at_risk_change_factor=float(os.environ.get("STOCKOUT_MAX_AT_RISK_CHANGE_FACTOR", "5")),
        sensor_interval_seconds=int(os.environ.get("STOCKOUT_SENSOR_INTERVAL_SECONDS", "300")),
        future_tolerance_hours=float(os.environ.get("STOCKOUT_FUTURE_TOLERANCE_HOURS", "24")),
        max_event_age_hours=float(os.environ.get("STOCKOUT_MAX_EVENT_AGE_HOURS", "48")),
        # Ids below the high-water mark each landing re-reads for rows that committed late:
        # more than the source writes during its slowest transaction (100,000 ids are half an
        # hour of the benchmark tier's 5 million changes a day).
        late_commit_lookback_ids=int(os.environ.get("STOCKOUT_LATE_COMMIT_LOOKBACK_IDS", "100000")),
    )


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant as an aware UTC datetime in whole seconds; naive means UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"not an ISO-8601 instant: {text!r} (expected e.g. 2026-11-21T09:00:00Z)") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(microsecond=0)


def now() -> datetime:
    """The wall clock, or STOCKOUT_NOW when set (tests and replays run history as if live)."""
    override = os.environ.get("STOCKOUT_NOW")
    if override:
        return parse_instant(override)
    return datetime.now(timezone.utc).replace(microsecond=0)


def format_instant(instant: datetime) -> str:
    """UTC ISO-8601 with a Z, the form passed to dbt and shown to users."""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
