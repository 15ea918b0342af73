"""One refresh writes the warehouse at a time: the others wait for it instead of failing.

DuckDB allows a single writer per file. Runs launched by the Dagster daemon are also limited
to one at a time by the run queue (dagster.yaml); this lock covers every other way a run can
start (`stockout refresh`, `stockout backfill`, a run launched while another is under way)
and is held for the whole run, from before landing to after publishing, so that no other run
can slip in between a run's build, checks and publish. It is an OS file lock: a killed run
releases it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg

from orchestration.settings import load_settings


@contextlib.contextmanager
def hold_warehouse_lock(path: Path, report: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the lock file at `path`, waiting (and saying so once) while another run has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another run"
            report(f"waiting for the refresh that holds {path} ({holder}) to finish")
            started = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)
            report(f"got the warehouse lock after {time.monotonic() - started:.1f}s")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class WarehouseLock(dg.ConfigurableResource):
    """The warehouse lock, held for as long as the run that uses it."""

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseLock"]:
        log = context.log.info if context.log else print
        with hold_warehouse_lock(load_settings().warehouse_lock_path, report=log):
            yield self
