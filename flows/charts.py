"""Charts of a topic's or entity's daily volume: a PNG, and a self-contained HTML page with the table.

Why this shape: the people who want a picture rather than SQL open files, not notebooks. The PNG goes
into slides and chat; the HTML page embeds the same PNG (base64, so the page is one file that works
offline and by e-mail) above the numbers it was drawn from. No JavaScript and nothing fetched from the
network. Drawing uses matplotlib's Agg canvas directly (no pyplot), so it never needs a display and
never touches global backend state.
"""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from warehouse.trends import TrendSeries, summary_lines
from warehouse.views import SPIKE_BASELINE_DAYS, SPIKE_MIN_SCORE, SPIKE_MIN_STORIES

SPIKE_LABEL = "spike day"
_ARTICLES_COLOUR = "#b8c7dc"
_STORIES_COLOUR = "#1f4e89"
_SPIKE_COLOUR = "#d62728"


def chart_title(series: TrendSeries) -> str:
    """The chart's and page's title, e.g. ``Topic korea-diplomacy: daily volume``."""
    what = f"Topic {series.name}" if series.kind == "topic" else f"{series.name} ({series.entity_type or 'entity'})"
    return f"{what}: " + ("share of all stories" if series.measure == "share" else "daily volume")


def trend_figure(series: TrendSeries) -> Figure:
    """The chart: articles as bars, distinct stories as a line, spike days as red dots on the line.

    The spike markers are the one line labelled ``SPIKE_LABEL`` (tests look for it).
    """
    fig = Figure(figsize=(10, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if series.measure == "share":
        _draw_share(ax, series)
        return fig
    # matplotlib plots dates through its units registry, but its type stubs admit only numbers and arrays.
    days = cast("list[float]", [d.day for d in series.days])
    bars = ax.bar(days, [d.articles for d in series.days], width=0.8, color=_ARTICLES_COLOUR, label="articles (copies)")
    if is_partial_last_day(series):
        bars[-1].set_hatch("///")
        bars[-1].set_edgecolor(_STORIES_COLOUR)
        bars[-1].set_label("today so far")
    ax.plot(days, [d.stories for d in series.days], color=_STORIES_COLOUR, marker="o", markersize=3,
            linewidth=1.6, label="stories (distinct)")
    spikes = [d for d in series.days if d.spike]
    if spikes:
        ax.plot(cast("list[float]", [d.day for d in spikes]), [d.stories for d in spikes], linestyle="none", marker="o", markersize=9,
                markerfacecolor="none", markeredgecolor=_SPIKE_COLOUR, markeredgewidth=2, label=SPIKE_LABEL)
    for d in spikes:
        ax.annotate(f"score {d.score:.1f}", (d.day, d.stories), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=8, color=_SPIKE_COLOUR)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0, top=max([1] + [d.articles for d in series.days] + [d.stories + 1 for d in spikes]) * 1.15)
    ax.set_ylabel("per UTC day")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False, fontsize=8)
    ax.set_title(chart_title(series), loc="left", fontsize=12)
    if series.now is not None and series.now.is_spike:
        ax.set_title(f"spiking now (score {series.now.score:.1f})", loc="right", fontsize=10, color=_SPIKE_COLOUR)
    return fig


def _draw_share(ax: Any, series: TrendSeries) -> None:
    """``trends --share``: the day's stories as a percentage of all stories that day, spike days marked.

    Spikes are still scored on story counts (the same rule as the count chart and the ``spikes`` view);
    the marker only sits on the share line.
    """
    days = [d.day for d in series.days]
    pct = [100 * (d.story_share or 0.0) for d in series.days]
    ax.plot(days, pct, color=_STORIES_COLOUR, marker="o", markersize=3, linewidth=1.6,
            label="share of all stories that day (%)")
    spikes = [(d.day, p) for d, p in zip(series.days, pct, strict=True) if d.spike]
    if spikes:
        ax.plot([s[0] for s in spikes], [s[1] for s in spikes], linestyle="none", marker="o", markersize=9,
                markerfacecolor="none", markeredgecolor=_SPIKE_COLOUR, markeredgewidth=2, label=SPIKE_LABEL)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_ylim(bottom=0, top=max([1.0] + pct) * 1.15)
    ax.set_ylabel("% of the day's stories")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False, fontsize=8)
    ax.set_title(chart_title(series), loc="left", fontsize=12)


def is_partial_last_day(series: TrendSeries) -> bool:
    """Whether the series' last day was still running when it was read (its bar is drawn hatched)."""
    if series.as_of is None or not series.days:
        return False
    end_of_day = datetime.combine(series.days[-1].day + timedelta(days=1), time.min, UTC)
    return series.as_of < end_of_day


def trend_chart_png(series: TrendSeries) -> bytes:
    """The chart as PNG bytes."""
    buf = io.BytesIO()
    trend_figure(series).savefig(buf, format="png")
    return buf.getvalue()


_PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 14px; margin-top: 1em; }
th, td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #e3e3e3; }
th:first-child, td:first-child { text-align: left; }
tr.spike td { background: #fde8e8; font-weight: 600; }
p.note { color: #555; font-size: 13px; }
"""


def _pct(share: float | None) -> str:
    return "" if share is None else f"{share:.1%}"


def trend_page_html(series: TrendSeries, png: bytes) -> str:
    """A self-contained HTML page: summary, the chart (embedded PNG), then one table row per day, newest first."""
    title = html.escape(chart_title(series))
    last = series.days[-1] if series.days else None
    partial = " (so far)" if is_partial_last_day(series) else ""
    rows = "\n".join(
        f'<tr class="{"spike" if d.spike else "day"}"><td>{d.day.isoformat()}{partial if d is last else ""}</td>'
        f"<td>{d.articles}</td>"
        f"<td>{d.stories}</td><td>{_pct(d.share)}</td><td>{_pct(d.story_share)}</td><td>{d.baseline:.2f}</td>"
        f"<td>{d.score:.1f}</td>"
        f"<td>{'spike' if d.spike else ''}</td></tr>"
        for d in reversed(series.days)
    )
    summary = "<br>".join(html.escape(line.strip()) for line in summary_lines(series))
    img = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title><style>{_PAGE_CSS}</style></head>
<body>
<h1>{title}</h1>
<p>{summary}</p>
<img src="data:image/png;base64,{img}" alt="{title}">
<p class="note">Days are UTC days of publication. <em>Articles</em> counts every copy; <em>stories</em> counts
distinct stories (copies of one wire story count once). A day is a spike when it has at least
{SPIKE_MIN_STORIES} stories and a score of at least {SPIKE_MIN_SCORE:g}, where score =
(stories &minus; baseline) / &radic;(baseline + 1) and baseline is the mean stories per day over the
{SPIKE_BASELINE_DAYS} days before. <em>Share</em> is this day's articles over all articles that day; <em>story share</em> its stories over
all distinct stories that day.</p>
<table>
<thead><tr><th>day</th><th>articles</th><th>stories</th><th>share</th><th>story share</th><th>baseline</th><th>score</th><th></th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""


def file_stem(series: TrendSeries) -> str:
    """A safe file name stem for the series, e.g. ``trend-topic-korea-diplomacy``."""
    slug = re.sub(r"[^a-z0-9]+", "-", series.key.lower()).strip("-")[:80] or "unnamed"
    return f"trend-{series.kind}-{slug}"


def written_trend_files(series: TrendSeries, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.html`` into ``out_dir`` (created if missing).

    Returns:
        The paths of the PNG and the HTML page.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    png = trend_chart_png(series)
    png_path = out_dir / f"{file_stem(series)}.png"
    html_path = png_path.with_suffix(".html")
    png_path.write_bytes(png)
    html_path.write_text(trend_page_html(series, png), encoding="utf-8")
    return png_path, html_path
