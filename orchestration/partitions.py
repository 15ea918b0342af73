"""Hourly partitions of the refresh: partition H is the refresh as of the end of hour H.

The partition whose window (start, end] holds an instant is the one a refresh at that
instant belongs to; a refresh exactly on the hour is the partition of the hour just ended,
so the hourly schedule's run at 12:00 is partition 11:00 with T = 12:00. Refreshes between
hours (the CLI at "now", the sensor) pass their exact T as run config; partitions give the
UI its grid of refreshes and back-fills of any range.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import dagster as dg

from orchestration.settings import now

PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:%M"
HOUR = timedelta(hours=1)
# The first hour a refresh can be run or back-filled for (STOCKOUT_PARTITIONS_START).
PARTITIONS_START = os.environ.get("STOCKOUT_PARTITIONS_START", "2024-01-01-00:00")

# end_offset=1: the hour in progress is a partition too, for a refresh at "now".
REFRESH_PARTITIONS = dg.HourlyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1, timezone="UTC")


def partition_key_for(as_of: datetime) -> str:
    """The key of the hour (start, end] that holds `as_of`."""
    end = as_of.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    if end < as_of:
        end += HOUR
    return (end - HOUR).strftime(PARTITION_KEY_FORMAT)


def partition_end(partition_key: str) -> datetime:
    """T of a partition: the end of its hour."""
    return datetime.strptime(partition_key, PARTITION_KEY_FORMAT).replace(tzinfo=timezone.utc) + HOUR


def hourly_instants(first: datetime, last: datetime) -> list[datetime]:
    """Every whole hour from `first` to `last`, both included: the T of a back-fill."""
    instant = first.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    if instant < first:
        instant += HOUR
    instants = []
    while instant <= last:
        instants.append(instant)
        instant += HOUR
    return instants


@contextlib.contextmanager
def partitions_known_at(as_of: datetime) -> Iterator[None]:
    """Partitions up to `as_of` and "now" (STOCKOUT_NOW when set), not only up to the wall
    clock: a replay of a shop's history may run at instants the wall clock has not reached."""
    with dg.partition_loading_context(effective_dt=max(as_of, now(), datetime.now(timezone.utc))):
        yield
