"""Server-side SVG charts for the pages: hand-built SVG text, nothing fetched by the browser.

Each chart is an accessible ``<svg role="img">`` with a ``<title>``; all text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 30, 46
#: Colour-blind-safe palette (Okabe-Ito), dark enough on white.
PALETTE = ("#0b5cad", "#c0392b", "#117a43", "#8e44ad", "#b35c00", "#2c3e50")


@dataclass(frozen=True)
class Series:
    name: str
    xs: Sequence[float]
    ys: Sequence[float | None]
    dashed: bool = False
    markers: bool = True


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.2g}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    x_range: tuple[float, float] | None = None,
    hline: tuple[float, str] | None = None,
    vline: tuple[float, str] | None = None,
    percent: bool = False,
) -> Markup:
    """A line chart of ``series`` (missing y values break nothing: they are skipped)."""
    points = [
        (x, y)
        for s in series
        for x, y in zip(s.xs, s.ys, strict=False)
        if _finite(x) and _finite(y)
    ]
    xs = [x for x, _ in points] or [0.0, 1.0]
    ys = [y for _, y in points] or [0.0, 1.0]
    x0, x1 = x_range or (min(xs), max(xs))
    if x1 - x0 < 1e-9:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = y_range or (min(ys), max(ys))
    if y_range is None:
        pad = (y1 - y0) * 0.1 or max(abs(y1) * 0.1, 1.0)
        y0, y1 = max(0.0, y0 - pad) if y0 >= 0 else y0 - pad, y1 + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    out: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
    ]
    for tick in nice_ticks(y0, y1):
        y = py(tick)
        text = f"{tick * 100:g}%" if percent else _label(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e1e4e8" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="13" text-anchor="end" '
            f'fill="#333">{escape(text)}</text>'
        )
    for tick in nice_ticks(x0, x1, 6):
        x = px(tick)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 5}" '
            'stroke="#555"/>'
            f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" font-size="13" text-anchor="middle" '
            f'fill="#333">{escape(_label(tick))}</text>'
        )
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#888"/>'
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" font-size="13" '
        f'text-anchor="middle" fill="#222">{escape(x_label)}</text>'
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="13" text-anchor="middle" '
        f'fill="#222" transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    if hline is not None and y0 <= hline[0] <= y1:
        y = py(hline[0])
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#777" '
            'stroke-dasharray="4 4"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#444">{escape(hline[1])}</text>'
        )
    if vline is not None and x0 <= vline[0] <= x1:
        x = px(vline[0])
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#b35c00" '
            'stroke-dasharray="5 3" stroke-width="1.5"/>'
            f'<text x="{x + 4:.1f}" y="{TOP + 12}" font-size="11" fill="#8a4700">'
            f"{escape(vline[1])}</text>"
        )
    legend_x = LEFT + 4
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        pts = [
            (px(x), py(y))
            for x, y in zip(s.xs, s.ys, strict=False)
            if _finite(x) and _finite(y) and x0 <= x <= x1
        ]
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" '
                f'stroke-width="2.2"{dash}/>'
            )
        if s.markers:
            out.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>' for x, y in pts
            )
        if len(series) > 1:
            out.append(
                f'<rect x="{legend_x}" y="10" width="12" height="4" fill="{colour}"/>'
                f'<text x="{legend_x + 16}" y="16" font-size="13" fill="#222">'
                f"{escape(s.name)}</text>"
            )
            legend_x += 24 + 8 * len(s.name) + (6 * sum(ord(c) > 0x2E80 for c in s.name))
    out.append("</svg>")
    return Markup("".join(out))
