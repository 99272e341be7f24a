"""Server-rendered SVG charts: no script, no CDN, readable by screen readers.

Each chart is an ``<svg role="img">`` with a title and a description that states the numbers;
the page puts the same numbers in a table beside it. Colours come from classes in the
dashboard's stylesheet (the console's CSP allows no inline styles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH = 640
BAR_HEIGHT = 26
BAR_GAP = 10
LABEL_WIDTH = 190
LINE_HEIGHT = 220
MARGIN = {"left": 56, "right": 16, "top": 16, "bottom": 36}


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # class of the line: s1, s2, s3


def _svg(
    title: str, description: str, width: int, height: int, body: list[Markup], ident: str
) -> Markup:
    return Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{i}-t {i}-d" '
        'xmlns="http://www.w3.org/2000/svg"><title id="{i}-t">{t}</title>'
        '<desc id="{i}-d">{d}</desc>{b}</svg>'
    ).format(w=width, h=height, i=ident, t=title, d=description, b=Markup("").join(body))


def bars(
    ident: str,
    title: str,
    items: Sequence[tuple[str, float | None]],
    show: Callable[[float | None], str],
    maximum: float | None = None,
) -> Markup:
    """Horizontal bars, one per item, labelled on the left and valued on the right."""
    top = maximum if maximum else max([v for _, v in items if v is not None] or [0]) or 1.0
    height = max(1, len(items)) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    room = WIDTH - LABEL_WIDTH - 90
    parts: list[Markup] = []
    for index, (label, value) in enumerate(items):
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        length = 0.0 if value is None else max(0.0, min(1.0, value / top)) * room
        parts.append(
            Markup(
                '<text class="label" x="{lx}" y="{ty:.1f}" text-anchor="end">{label}</text>'
                '<rect class="track" x="{x}" y="{y}" width="{room}" height="{h}" rx="3"/>'
                '<rect class="bar" x="{x}" y="{y}" width="{length:.1f}" height="{h}" rx="3"/>'
                '<text class="value" x="{vx}" y="{ty:.1f}">{value}</text>'
            ).format(
                lx=LABEL_WIDTH - 8,
                ty=y + BAR_HEIGHT * 0.68,
                label=label,
                x=LABEL_WIDTH,
                y=y,
                room=room,
                h=BAR_HEIGHT,
                length=length,
                vx=LABEL_WIDTH + room + 8,
                value=show(value),
            )
        )
    description = "; ".join(f"{label}: {show(value)}" for label, value in items)
    return _svg(title, description, WIDTH, height, parts, ident)


def lines(
    ident: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    low: float,
    high: float | None,
    show: Callable[[float | None], str],
    empty: str,
) -> Markup:
    """A line per series over the buckets; a missing value breaks the line (no fake zero).
    Without a single value there is no chart, only ``empty`` said in words."""
    known = [v for s in series for v in s.values if v is not None]
    if not known:
        return Markup('<p class="nodata">{}</p>').format(empty)
    if high is None:
        high = max(known or [1.0]) * 1.1 or 1.0
    top_value = high if high > low else low + 1
    left, right = MARGIN["left"], WIDTH - MARGIN["right"]
    top, bottom = MARGIN["top"], LINE_HEIGHT - MARGIN["bottom"]
    count = max(1, len(labels))

    def x(index: int) -> float:
        return left + (right - left) * (index + 0.5) / count

    def y(value: float) -> float:
        return bottom - (bottom - top) * (value - low) / (top_value - low)

    parts: list[Markup] = []
    for step in range(5):
        tick = low + (top_value - low) * step / 4
        parts.append(
            Markup(
                '<line class="grid" x1="{l}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}"/>'
                '<text class="axis" x="{tx}" y="{ty:.1f}" text-anchor="end">{v}</text>'
            ).format(l=left, r=right, y=y(tick), tx=left - 6, ty=y(tick) + 4, v=show(tick))
        )
    every = max(1, count // 8)
    for index, label in enumerate(labels):
        if index % every == 0:
            parts.append(
                Markup(
                    '<text class="axis" x="{x:.1f}" y="{y}" text-anchor="middle">{label}</text>'
                ).format(x=x(index), y=LINE_HEIGHT - 14, label=label)
            )
    for line in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for index, point in enumerate(line.values):
            if point is None:
                runs.append([])
            else:
                runs[-1].append((x(index), y(point)))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                parts.append(
                    Markup('<polyline class="line {c}" points="{p}"/>').format(c=line.css, p=points)
                )
            for px, py in run:
                parts.append(
                    Markup('<circle class="dot {c}" cx="{x:.1f}" cy="{y:.1f}" r="3"/>').format(
                        c=line.css, x=px, y=py
                    )
                )
    description = " ".join(
        f"{line.name}: "
        + ", ".join(f"{label} {show(v)}" for label, v in zip(labels, line.values, strict=False))
        + "."
        for line in series
    )
    return _svg(title, description, WIDTH, LINE_HEIGHT, parts, ident)
