"""The at-risk report: one self-contained HTML page per published refresh.

Written after each successful publish from the version's own Parquet files, to
`reports/at_risk_<as_of>.html` and `reports/latest.html`. Everything it needs (styles, the
sorting script, the chart) is inline, so it opens offline from a file or an e-mail.
"""

from __future__ import annotations

import html
import os
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.publish import version_relation_sql
from orchestration.settings import format_instant

TABLE_COLUMNS = (
    ("risk_rank", "Rank"),
    ("product_name", "Product"),
    ("sku", "SKU"),
    ("supplier_name", "Supplier"),
    ("stock_status", "Status"),
    ("on_hand", "On hand"),
    ("demand_rate", "Demand / day"),
    ("days_to_stockout", "Days left"),
    ("stockout_probability_7d", "P(stock-out, 7 d)"),
    ("reorder_recommended", "Reorder"),
    ("suggested_reorder_qty", "Reorder qty"),
)
# A page for people: the most at-risk products and the first names of each change list. The
# whole list is in the published mart (at_risk_in_a_week, at_risk_changes); at the benchmark
# tier, 345,000 rows made a 190 MB page that took seconds to write every hour.
REPORT_ROWS = 1000
CHANGES_LISTED = 100
DAY_BUCKETS = ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 14), (14, 28))

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2433; }
h1 { margin-bottom: 0.2rem; } .meta { color: #5b6475; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #dde1ea; text-align: left; }
th { cursor: pointer; background: #f3f5f9; user-select: none; } th:hover { background: #e4e8f1; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.out_of_stock { color: #b42318; font-weight: 600; } .stale { color: #b42318; }
.bar { fill: #3d6fd8; } .label { font-size: 11px; fill: #1d2433; }
"""

SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (header, index) {
  header.addEventListener('click', function () {
    var body = header.closest('table').tBodies[0];
    var ascending = header.dataset.order !== 'asc';
    header.dataset.order = ascending ? 'asc' : 'desc';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].dataset.value, y = b.cells[index].dataset.value;
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _cell(column: str, value: object) -> str:
    if value is None:
        return '<td data-value=""></td>'
    if isinstance(value, float):
        shown = (
            f"{value:.3f}"
            if column == "stockout_probability_7d"
            else f"{value:.1f}"
            if column == "days_to_stockout"
            else f"{value:.2f}"
        )
        return f'<td class="num" data-value="{value!r}">{shown}</td>'
    if isinstance(value, bool):
        return f'<td data-value="{int(value)}">{"yes" if value else ""}</td>'
    if isinstance(value, int):
        return f'<td class="num" data-value="{value}">{value}</td>'
    css = f' class="{html.escape(str(value))}"' if column == "stock_status" else ""
    return f'<td{css} data-value="{html.escape(str(value))}">{html.escape(str(value))}</td>'


def _change_list(changes: list[tuple], change: str) -> tuple[str, int]:
    """The listed names of one kind of change, and how many products it had in all."""
    names = [
        f"{html.escape(str(name))} ({html.escape(str(sku))})"
        for kind, name, sku, _, _ in changes
        if kind == change
    ]
    total = next((count for kind, _, _, _, count in changes if kind == change), 0)
    more = f", and {total - len(names)} more (at_risk_changes in the mart)" if total > len(names) else ""
    return (", ".join(names) or "none") + more, total


def _days_chart(counts: list[int]) -> str:
    """Horizontal bars: how many products run out within each span of days."""
    width, bar_height, label_width = 520, 18, 90
    peak = max(counts + [1])
    bars = []
    for row, ((low, high), count) in enumerate(zip(DAY_BUCKETS, counts)):
        y = row * (bar_height + 4)
        length = (width - label_width - 40) * count / peak
        bars.append(
            f'<text class="label" x="0" y="{y + 13}">{low}–{high} days</text>'
            f'<rect class="bar" x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}"></rect>'
            f'<text class="label" x="{label_width + length + 4:.1f}" y="{y + 13}">{count}</text>'
        )
    height = len(DAY_BUCKETS) * (bar_height + 4)
    return f'<svg role="img" aria-label="products by days to stock-out" width="{width}" height="{height}">{"".join(bars)}</svg>'


def render_report(version_folder: Path, as_of: datetime, newest_event_at: datetime | None) -> str:
    def published(relation: str) -> str:
        return f"({version_relation_sql(version_folder, relation)})"

    with duckdb.connect() as connection:
        columns = ", ".join(name for name, _ in TABLE_COLUMNS)
        at_risk = connection.execute(
            f"select {columns} from {published('at_risk_in_a_week')} order by risk_rank limit {REPORT_ROWS}"
        ).fetchall()
        (at_risk_count,) = connection.execute(
            f"select count(*) from {published('at_risk_in_a_week')}"
        ).fetchone()
        bucket_sql = ", ".join(
            f"count(*) filter (where days_to_stockout >= {low} and days_to_stockout < {high})"
            for low, high in DAY_BUCKETS
        )
        counts = list(
            connection.execute(f"select {bucket_sql} from {published('days_to_stockout')}").fetchone()
        )
        changes = connection.execute(
            f"select change, product_name, sku, previous_as_of, count(*) over (partition by change) "
            f"from {published('at_risk_changes')} "
            f"qualify row_number() over (partition by change order by product_name, sku) <= {CHANGES_LISTED} "
            "order by change, product_name, sku"
        ).fetchall()
    header = "".join(f"<th>{html.escape(title)}</th>" for _, title in TABLE_COLUMNS)
    body = "\n".join(
        "<tr>" + "".join(_cell(name, value) for (name, _), value in zip(TABLE_COLUMNS, row)) + "</tr>"
        for row in at_risk
    )
    entered, entered_count = _change_list(changes, "entered")
    left, left_count = _change_list(changes, "left")
    previous = changes[0][3] if changes else None
    if newest_event_at is None:
        freshness = '<span class="stale">no event landed yet</span>'
    else:
        lag_hours = (as_of - newest_event_at).total_seconds() / 3600
        css = ' class="stale"' if lag_hours > 24 else ""
        freshness = f"<span{css}>newest event {format_instant(newest_event_at)}, {lag_hours:.1f} h before the refresh</span>"
    since = f"since the refresh of {previous}" if previous else "since the previous refresh"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>At risk of stock-out within a week, {format_instant(as_of)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Products at risk of running out within a week</h1>
<p class="meta">As of {format_instant(as_of)} · {at_risk_count} products at risk · data freshness: {freshness}</p>
<h2>At risk{f", the {len(at_risk)} most at risk (all {at_risk_count} are in the mart's at_risk_in_a_week)" if len(at_risk) < at_risk_count else ""}</h2>
<table class="sortable" id="at-risk"><thead><tr>{header}</tr></thead>
<tbody>
{body}
</tbody></table>
<h2>Days to stock-out, all products</h2>
{_days_chart(counts)}
<h2>Changes {html.escape(since)}</h2>
<p><strong>Entered ({entered_count}):</strong> {entered}</p>
<p><strong>Left ({left_count}):</strong> {left}</p>
<script>{SORT_SCRIPT}</script>
</body></html>
"""


def write_report(
    version_folder: Path, reports_dir: Path, as_of: datetime, newest_event_at: datetime | None
) -> Path:
    """Write the report for a published version and point latest.html at it, atomically."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    page = render_report(version_folder, as_of, newest_event_at)
    target = reports_dir / f"at_risk_{as_of.strftime('%Y%m%dT%H%M%SZ')}.html"
    for path in (target, reports_dir / "latest.html"):
        temporary = path.with_name(f".{path.name}.inprogress")
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, path)
    return target
