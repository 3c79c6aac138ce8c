"""Geometry of the small daily charts, drawn as inline SVG by the templates.

Why server-side SVG: the chart must be readable without JavaScript (and in a screenshot, a text
browser's "view image", a printed page), and an inline SVG is a few kilobytes with no library and no
CDN. Python computes the coordinates; the template writes them as attributes (escaped by Jinja like
everything else), each bar carrying its day and values for the hover read-out and the zoom of
``static/app.js``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 640
HEIGHT = 160
PAD_LEFT = 36
PAD_RIGHT = 36
PAD_TOP = 10
PAD_BOTTOM = 22


@dataclass(frozen=True, slots=True)
class Bar:
    """One day: its bar, the day's values in words, and whether it is a spike or the day in progress."""

    x: float
    y: float
    w: float
    h: float
    day: str
    value: int
    tip: str
    spike: bool
    partial: bool


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the SVG template needs: bars, an optional line (its own scale), axes labels."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    line: str  # polyline points, "" when there is no line
    spikes: tuple[tuple[float, float, str], ...]  # (cx, cy, tip) of each spike marker
    y_max: int
    line_max: str  # the right axis's top label
    x_labels: tuple[tuple[float, str], ...]
    label: str  # the accessible description

    @property
    def base(self) -> int:
        """The y of the zero line (the bars' bottom)."""
        return self.height - PAD_BOTTOM

    @property
    def right(self) -> int:
        """The x where the plot ends (the right axis)."""
        return self.width - PAD_RIGHT


def _nice_max(v: float) -> int:
    if v <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        if v <= step:
            return step
    return int(v) + 1


def daily_chart(days: Sequence[Mapping[str, Any]], *, bar_key: str, bar_label: str, line_key: str | None = None,
                line_label: str = "", percent_line: bool = False, label: str = "") -> Chart:
    """The chart of a dense daily series (oldest first): bars for ``bar_key``, a line for ``line_key``.

    Days flagged ``spike`` get a marker above their bar; the ``partial`` day (today) is drawn lighter.
    """
    n = max(len(days), 1)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / n
    y_max = _nice_max(max((float(d.get(bar_key) or 0) for d in days), default=0))
    line_vals = [float(d.get(line_key) or 0) for d in days] if line_key else []
    top = max(line_vals, default=0.0)
    line_top = (top if top > 0 else 1.0) if percent_line else float(_nice_max(top))
    bars: list[Bar] = []
    spikes: list[tuple[float, float, str]] = []
    points: list[str] = []
    for i, d in enumerate(days):
        value = int(d.get(bar_key) or 0)
        h = plot_h * value / y_max
        x = PAD_LEFT + i * step
        day = str(d.get("day"))
        parts = [f"{day}", f"{bar_label} {value}"]
        if line_key:
            lv = line_vals[i]
            parts.append(f"{line_label} {lv * 100:.1f}%" if percent_line else f"{line_label} {lv:g}")
            points.append(f"{x + step / 2:.1f},{PAD_TOP + plot_h - plot_h * lv / line_top:.1f}")
        if d.get("spike"):
            parts.append(f"spike (score {float(d.get('score') or 0):.1f})")
            spikes.append((round(x + step / 2, 1), round(max(PAD_TOP + plot_h - h - 6, PAD_TOP + 3), 1), ", ".join(parts)))
        if d.get("partial"):
            parts.append("today, so far")
        bars.append(Bar(round(x + step * 0.1, 1), round(PAD_TOP + plot_h - h, 1), round(step * 0.8, 1), round(h, 1), day,
                        value, ", ".join(parts), bool(d.get("spike")), bool(d.get("partial"))))
    ticks = sorted({0, n // 2, n - 1}) if days else []
    x_labels = tuple((round(PAD_LEFT + i * step + step / 2, 1), str(days[i].get("day"))[5:]) for i in ticks)
    line_max = (f"{line_top * 100:.0f}%" if line_top >= 0.01 else f"{line_top * 100:.1f}%") if percent_line else f"{line_top:g}"
    return Chart(WIDTH, HEIGHT, tuple(bars), " ".join(points), tuple(spikes), y_max, line_max if line_key else "",
                 x_labels, label)
