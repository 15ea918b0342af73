from datetime import datetime, timezone

import pytest

from orchestration.settings import format_instant, load_settings, now, parse_instant


def test_parse_instant_accepts_z_offsets_and_naive_as_utc() -> None:
    expected = datetime(2026, 11, 21, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_instant("2026-11-21T12:00:00Z") == expected
    assert parse_instant("2026-11-21T13:00:00+01:00") == expected
    assert parse_instant("2026-11-21T12:00:00") == expected
    assert parse_instant("2026-11-21T12:00:00.750Z") == expected  # whole seconds


def test_parse_instant_names_the_bad_value() -> None:
    with pytest.raises(ValueError, match="yesterday"):
        parse_instant("yesterday")


def test_now_follows_stockout_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKOUT_NOW", "2026-01-02T03:04:05Z")
    assert format_instant(now()) == "2026-01-02T03:04:05Z"
    monkeypatch.delenv("STOCKOUT_NOW")
    assert abs((now() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_settings_default_under_the_data_dir(data_dir) -> None:
    settings = load_settings()
    assert settings.data_dir == data_dir
    assert settings.transactions_url == f"sqlite:///{data_dir / 'sources' / 'transactions.sqlite'}"
    assert settings.inventory_url == f"sqlite:///{data_dir / 'sources' / 'inventory.sqlite'}"
    assert settings.mart_database == data_dir / "mart" / "analytics.duckdb"
    assert settings.snapshot_interval_hours == 24
    assert settings.catalog_interval_hours == 24
