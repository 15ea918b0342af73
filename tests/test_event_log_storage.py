"""The event log storage `stockout` selects (orchestration/event_log_storage.py): Dagster's
SQLite files, written over open connections, read back the same by Dagster's own storage."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration import event_log_storage
from orchestration.cli import _prepare_dagster_home
from orchestration.event_log_storage import OpenConnectionsSqliteEventLogStorage
from orchestration.settings import load_settings


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=counted)
def counted_has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _materialize(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([counted, counted_has_rows], instance=instance)
    assert result.success
    return result.run_id


def _default_storage_instance(home: Path) -> dg.DagsterInstance:
    """The instance as Dagster's own SQLite storage sees the same DAGSTER_HOME."""
    config = home / "dagster.yaml"
    config.write_text(config.read_text().split("event_log_storage:")[0])
    return dg.DagsterInstance.get()


def test_runs_stored_over_open_connections_read_the_same_with_dagsters_storage(data_dir: Path) -> None:
    home = _prepare_dagster_home(load_settings())
    assert "orchestration.event_log_storage" in (home / "dagster.yaml").read_text()
    _prepare_dagster_home(load_settings())  # idempotent: the section is written once
    assert (home / "dagster.yaml").read_text().count("event_log_storage:") == 1

    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, OpenConnectionsSqliteEventLogStorage)
        run_id = _materialize(instance)
        written = instance.all_logs(run_id)
        assert instance.event_log_storage._engines  # the connections stayed open

    with _default_storage_instance(home) as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        read = instance.all_logs(run_id)
        assert [entry.dagster_event_type for entry in read] == [entry.dagster_event_type for entry in written]
        # the index file too: the UI's asset pages and the check's history
        latest = instance.get_latest_materialization_event(dg.AssetKey("counted"))
        assert latest is not None and latest.run_id == run_id
        assert latest.asset_materialization.metadata["rows"].value == 3
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("counted"), "counted_has_rows")]
        )
        assert len(check) == 1
        earlier = _materialize(instance)  # a run stored before the switch ...

    _prepare_dagster_home(load_settings())
    with dg.DagsterInstance.get() as instance:  # ... is read back after it
        assert isinstance(instance.event_log_storage, OpenConnectionsSqliteEventLogStorage)
        assert len(instance.all_logs(earlier)) == len(read)
        assert instance.get_latest_materialization_event(dg.AssetKey("counted")).run_id == earlier


def test_at_most_a_few_databases_stay_open(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_log_storage, "OPEN_DATABASES", 3)
    _prepare_dagster_home(load_settings())
    with dg.DagsterInstance.get() as instance:
        run_ids = [_materialize(instance) for _ in range(4)]
        storage = instance.event_log_storage
        assert len(storage._engines) == 3
        # the index and the newest runs stay open; the oldest run was closed, and reopens
        assert {"index", run_ids[-1]} <= set(storage._engines)
        assert run_ids[0] not in storage._engines
        assert instance.all_logs(run_ids[0])


def test_wiping_the_history_closes_the_files_it_deletes(data_dir: Path) -> None:
    home = _prepare_dagster_home(load_settings())
    with dg.DagsterInstance.get() as instance:
        run_id = _materialize(instance)
        instance.event_log_storage.wipe()
        assert set(instance.event_log_storage._engines) == {"index"}  # the index is emptied, not deleted
        assert not (home / "history" / "runs" / f"{run_id}.db").exists()
        assert instance.all_logs(run_id) == []
        again = _materialize(instance)  # and the storage goes on working
        assert instance.all_logs(again)
