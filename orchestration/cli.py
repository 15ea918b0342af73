"""`stockout`: simulate a shop, refresh the warehouse, read the published answer, open the UI."""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from orchestration.settings import Settings, format_instant, load_settings, now, parse_instant


def _prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME inside the data folder, telemetry off, so runs from the CLI and the UI
    share one history and nothing is sent anywhere."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = config.read_text() if config.exists() else "telemetry:\n  enabled: false\n"
    if "concurrency:" not in text:
        # The run queue: runs the daemon launches (schedule, sensor, UI) wait for each other.
        text += "concurrency:\n  runs:\n    max_concurrent_runs: 1\n"
    if "event_log_storage:" not in text:
        # Dagster's SQLite event log in its usual files, storing events over open connections
        # (orchestration/event_log_storage.py: about 1 s less per refresh).
        text += (
            "event_log_storage:\n  module: orchestration.event_log_storage\n"
            "  class: OpenConnectionsSqliteEventLogStorage\n"
            "  config:\n    dagster_home:\n      env: DAGSTER_HOME\n"
        )
    config.write_text(text)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _progress_bar(description: str, unit: str):
    """A progress bar on an interactive terminal; nothing in CI logs or when piped."""
    from tqdm import tqdm

    quiet = os.environ.get("CI", "").lower() in {"1", "true", "yes"} or not sys.stderr.isatty()
    return tqdm(desc=description, unit=unit, disable=quiet, leave=False)


def cmd_simulate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from orchestration.simulator import TIERS, simulate_shop
    from orchestration.source_connections import describe
    from orchestration.source_writers import write_shop

    settings = load_settings()
    spec = TIERS[args.tier]
    overrides = {
        "products": args.products,
        "customers": args.customers,
        "sales_per_day": args.sales_per_day,
        "days": args.days,
        "seed": args.seed,
    }
    spec = replace(spec, **{k: v for k, v in overrides.items() if v is not None})
    spec = replace(spec, end=parse_instant(args.end) if args.end else now())
    started = time.monotonic()
    with _progress_bar("simulating", "hour") as bar:

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        shop = simulate_shop(spec, progress=advance)
    write_shop(shop, settings.transactions_url, settings.inventory_url)
    transactions, inventory = describe(settings.transactions_url), describe(settings.inventory_url)
    print(
        f"simulated {spec.products:,} products, {shop.inventory_change.num_rows:,} inventory changes "
        f"over {spec.days} days ending {format_instant(spec.end)} (seed {spec.seed}) "
        f"in {time.monotonic() - started:.1f}s\n"
        f"  transactions: {transactions}\n  inventory:    {inventory}"
    )
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    from orchestration.refresh import run_refresh

    settings = load_settings()
    _prepare_dagster_home(settings)
    outcome = run_refresh(
        as_of=args.as_of,
        model_settings={
            "horizon_days": args.horizon_days,
            "stockout_threshold": args.threshold,
            "reorder_factor": args.reorder_factor,
            "service_level": args.service_level,
            "smoothing_factor": args.smoothing_factor,
        },
        verbose=args.verbose,
        accept_anomalies=args.accept_anomalies,
        full_refresh=args.full_refresh,
    )
    print(outcome.summary)
    return 0 if outcome.success else 1


def cmd_backfill(args: argparse.Namespace) -> int:
    from orchestration.partitions import hourly_instants
    from orchestration.refresh import run_refresh

    settings = load_settings()
    _prepare_dagster_home(settings)
    first, last = parse_instant(args.from_), parse_instant(args.to)
    instants = hourly_instants(first, last)
    if not instants:
        print(f"stockout backfill: no whole hour from {args.from_} to {args.to}", file=sys.stderr)
        return 2
    print(
        f"back-filling {len(instants)} hourly refreshes, {format_instant(instants[0])} to {format_instant(instants[-1])}"
    )
    started = time.monotonic()
    with _progress_bar("back-fill", "hour") as bar:
        bar.total = len(instants)
        for instant in instants:
            outcome = run_refresh(as_of=format_instant(instant), backfill=True)
            if not outcome.success:
                bar.close()
                print(outcome.summary, file=sys.stderr)
                print(
                    f"stockout backfill: stopped at {format_instant(instant)}; re-run to carry on",
                    file=sys.stderr,
                )
                return 1
            if args.verbose_summaries:
                bar.write(outcome.summary)
            bar.update(1)
    print(
        f"back-filled {len(instants)} hours in {time.monotonic() - started:.1f}s; at_risk_history holds each of them"
    )
    return 0


def cmd_at_risk(args: argparse.Namespace) -> int:
    import duckdb

    database = load_settings().mart_database
    if not database.exists():
        print(f"no published mart at {database}: run `stockout refresh` first", file=sys.stderr)
        return 1
    with duckdb.connect(str(database), read_only=True) as connection:
        (as_of, count) = connection.execute("select max(as_of), count(*) from at_risk_in_a_week").fetchone()
        frame = connection.execute(
            """
            select risk_rank, product_id, product_name, sku, supplier_name, stock_status, on_hand,
                   round(demand_rate, 2) as demand_rate, round(days_to_stockout, 1) as days_left,
                   round(stockout_probability_7d, 3) as p_stockout_7d,
                   reorder_recommended as reorder, suggested_reorder_qty as reorder_qty
            from at_risk_in_a_week order by risk_rank limit ?
            """,
            [args.top],
        ).df()
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(f"{count} products at risk of running out within a week (as of {as_of}); top {len(frame)}:")
        print(frame.to_string(index=False) if len(frame) else "(none)")
    print(f"analyst database: {database}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    settings = load_settings()
    home = _prepare_dagster_home(settings)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ["STOCKOUT_DATA_DIR"] = str(settings.data_dir)
    # A background shell leaves SIGINT/SIGTERM ignored and exec keeps that: restore defaults
    # so the UI can be stopped.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-m",
        "orchestration.definitions",
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home})", flush=True)
    os.execv(sys.executable, command)
    return 0  # not reached


def cmd_docs(args: argparse.Namespace) -> int:
    """Generate the dbt docs (every model and column described) into data/dbt_docs, then serve."""
    import subprocess

    from orchestration.settings import DBT_PROJECT_DIR

    settings = load_settings()
    target = settings.data_dir / "dbt_docs"
    dbt = [sys.executable, "-c", "from dbt.cli.main import cli; cli()"]
    common = [
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
    ]
    environment = {**os.environ, "STOCKOUT_DATA_DIR": str(settings.data_dir)}
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    as_of = format_instant(now())
    generated = subprocess.run(
        [*dbt, "docs", "generate", *common, "--vars", f'{{"as_of": "{as_of}"}}'],
        env=environment,
        capture_output=True,
        text=True,
    )
    if generated.returncode != 0:
        print(generated.stdout[-2000:], file=sys.stderr)
        print(
            "stockout docs: dbt docs generate failed (is a refresh writing the warehouse? retry after it)",
            file=sys.stderr,
        )
        return 1
    print(f"dbt docs generated in {target}")
    if args.no_serve:
        return 0
    print(f"serving on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(target)
    os.execv(sys.executable, [sys.executable, "-m", "http.server", str(args.port), "--bind", args.host])
    return 0  # not reached


def cmd_bench(args: argparse.Namespace) -> int:
    from orchestration.bench import (
        BenchError,
        BenchParameters,
        check_free_space,
        format_table,
        make_work_dir,
        remove_work_dir,
        result_document,
        run_bench,
        write_json,
    )

    parameters = BenchParameters(
        products=args.products,
        sales_per_day=args.sales_per_day,
        history_days=args.history_days,
        seed=args.seed,
    )
    requested = Path(args.work_dir).resolve() if args.work_dir else None
    check_free_space(parameters, requested)
    work_dir = make_work_dir(requested)
    bars: dict[str, object] = {}

    def advance(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase) or bars.setdefault(phase, _progress_bar(phase, "day"))
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    try:
        result = run_bench(parameters, work_dir, progress=advance, log=lambda line: print(line, flush=True))
    except BenchError as error:  # a measured step failed: the message shows its output
        print(f"stockout bench: {error}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            remove_work_dir(work_dir)
    document = result_document(parameters, result)
    write_json(Path(args.json), document)
    machine = document["machine"]
    print(
        f"\nstockout bench: {args.products:,} products, {args.sales_per_day:,} sales/day, "
        f"{args.history_days} days of history (generated directly as landed files); "
        f"{machine['cpu_count']} CPUs, {machine['memory_gb']} GB, DuckDB {machine['duckdb']}\n"
    )
    print(format_table(result))
    print(f"\nresults: {args.json}" + (f"; data kept in {work_dir}" if args.keep else ""))
    if result.naive_full_recompute_error:
        print("the naive full recompute failed, so it was not measured (its error is above)", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stockout", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="write a simulated shop into the source systems")
    simulate.add_argument(
        "--tier", default="1", choices=["1", "bench"], help="size preset (default 1: 250 products)"
    )
    simulate.add_argument("--products", type=int, help="number of products (overrides the tier)")
    simulate.add_argument("--customers", type=int, help="number of customers (overrides the tier)")
    simulate.add_argument("--sales-per-day", type=int, help="mean sale events per day (overrides the tier)")
    simulate.add_argument("--days", type=int, help="days of history (default 42)")
    simulate.add_argument("--end", help="last instant of the history, ISO-8601 (default: now)")
    simulate.add_argument("--seed", type=int, help="random seed (default 42)")
    simulate.set_defaults(handler=cmd_simulate)

    refresh = commands.add_parser("refresh", help="land, transform, check and publish, through Dagster")
    refresh.add_argument("--as-of", help="the refresh instant, ISO-8601 (default: now)")
    refresh.add_argument(
        "--accept-anomalies",
        action="store_true",
        help="publish even if the at-risk count changed more than the volume check allows",
    )
    refresh.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental models from every landed file (same rows, costs the whole history)",
    )
    refresh.add_argument(
        "--verbose", action="store_true", help="show Dagster's and dbt's logs (default: data/logs/)"
    )
    refresh.add_argument("--horizon-days", type=float, help="at-risk horizon in days (default 7)")
    refresh.add_argument("--threshold", type=float, help="stock-out threshold in units (default 0)")
    refresh.add_argument(
        "--reorder-factor", type=float, help="reorder when days left < lead time x this (default 1.5)"
    )
    refresh.add_argument("--service-level", type=float, help="service level for safety stock (default 0.95)")
    refresh.add_argument("--smoothing-factor", type=float, help="EWMA smoothing factor (default 0.3)")
    refresh.set_defaults(handler=cmd_refresh)

    backfill = commands.add_parser(
        "backfill", help="refresh as of every whole hour in a range (oldest first), through Dagster"
    )
    backfill.add_argument("--from", dest="from_", required=True, help="first instant, ISO-8601")
    backfill.add_argument("--to", required=True, help="last instant, ISO-8601")
    backfill.add_argument(
        "--verbose-summaries", action="store_true", help="print each hour's one-line summary"
    )
    backfill.set_defaults(handler=cmd_backfill)

    bench = commands.add_parser(
        "bench", help="measure the DESIGN.md section 6 performance targets at a given scale, in one run"
    )
    bench.add_argument("--products", type=int, default=1_000_000, help="products (default 1,000,000)")
    bench.add_argument(
        "--sales-per-day", type=int, default=500_000, help="sale events per day (default 500,000)"
    )
    bench.add_argument(
        "--history-days", type=int, default=28, help="days of history, at least 7 (default 28)"
    )
    bench.add_argument("--json", required=True, help="file to write the results to")
    bench.add_argument(
        "--work-dir", help="new or empty folder for the generated data (default: /tmp/bench-*)"
    )
    bench.add_argument("--keep", action="store_true", help="keep the generated data folders afterwards")
    bench.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    bench.set_defaults(handler=cmd_bench)

    at_risk = commands.add_parser("at-risk", help="print the published at-risk table")
    at_risk.add_argument("--top", type=int, default=20, help="rows to show (default 20)")
    at_risk.set_defaults(handler=cmd_at_risk)

    docs = commands.add_parser("docs", help="generate and serve the dbt docs (models, columns, lineage)")
    docs.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    docs.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    docs.add_argument("--no-serve", action="store_true", help="only generate")
    docs.set_defaults(handler=cmd_docs)

    ui = commands.add_parser("ui", help="start the Dagster UI (dagster dev)")
    ui.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    ui.set_defaults(handler=cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from orchestration.source_connections import SourceError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:  # bad user input: say what, no traceback
        print(f"stockout {args.command}: {error}", file=sys.stderr)
        return 2
    except SourceError as error:  # a source system cannot be reached or read: the message says which
        print(f"stockout {args.command}: {error}", file=sys.stderr)
        return 1


def run() -> None:
    """The `stockout` command: `main`, then exit without the interpreter's teardown. Python
    takes about 1.2 s to finalize the modules of Dagster, dbt, pandas and Great Expectations,
    which every hourly refresh would pay for nothing: by then every file, connection and
    log of the command is closed. The exit handlers still run (logging's flush, and
    multiprocessing's, which removes the semaphores tqdm and dbt create)."""
    code = main()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
