"""A pipeline's days as an inline SVG chart: success rate as bars, p50 and p95 as lines.

Drawn on the server with presentation attributes only (no `style`), so the page's CSP holds;
the numbers are also in a table beside it, for screen readers and for copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT, PAD = 720, 220, 40


@dataclass(frozen=True)
class Day:
    day: date
    runs: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


def render_chart(days: Sequence[Day]) -> str:
    if not days:
        return ""
    slot = (WIDTH - 2 * PAD) / len(days)
    top = max((d.p95_ms or 0 for d in days), default=0) or 1.0
    plot_h = HEIGHT - 2 * PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="chart-title">',
        '<title id="chart-title">Success rate per day (bars) and p50 and p95 run durations '
        "(lines)</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#57606a"/>',
    ]
    for i, d in enumerate(days):
        if d.success_rate is not None:
            h = d.success_rate * plot_h
            parts.append(
                f'<rect x="{PAD + i * slot + slot * 0.15:.1f}" y="{HEIGHT - PAD - h:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="#aceebb"/>'
            )
    for key, colour in (("p50_ms", "#0a4a8c"), ("p95_ms", "#8c1a10")):
        points = [
            f"{PAD + (i + 0.5) * slot:.1f},{HEIGHT - PAD - (value / top) * plot_h:.1f}"
            for i, d in enumerate(days)
            if (value := getattr(d, key)) is not None
        ]
        if points:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                'stroke-width="2"/>'
            )
            # A dot per day too: a line of one point draws nothing.
            for point in points:
                x, y = point.split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>')
    parts += [
        f'<text x="{PAD}" y="{PAD - 12}" font-size="12" fill="#1b1f24">bars: success rate '
        f"(0-100%) · blue: p50 · red: p95 (top {escape(_ms(top))})</text>",
        f'<text x="{PAD}" y="{HEIGHT - PAD + 16}" font-size="11" fill="#57606a">'
        f"{days[0].day.isoformat()}</text>",
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" font-size="11" fill="#57606a" '
        f'text-anchor="end">{days[-1].day.isoformat()}</text>',
        "</svg>",
    ]
    return "".join(parts)


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"
