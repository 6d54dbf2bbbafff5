"""Server-side bar charts as inline SVG: no JavaScript, no front-end build.

``bar_chart`` draws one horizontal bar per value, each with its label and its
number in text, so the chart reads without colour and prints. The ``<svg>`` is
``role="img"`` named by its ``<title>`` and described by a ``<desc>`` that
lists every value, which is what a screen reader announces. Colours come from
CSS classes (``chart``, ``bar``, ``tone-<name>``) so the admin's light and dark
themes apply; the ``fill`` attributes are only the fallback outside the admin.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import slugify

ROW_HEIGHT = 26
BAR_HEIGHT = 16
LABEL_WIDTH = 130
VALUE_WIDTH = 64
PADDING = 6


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    tone: str = ""  # a CSS class suffix: tone-<tone>


def _bars(values: Iterable[Bar | tuple[str, int]]) -> list[Bar]:
    return [v if isinstance(v, Bar) else Bar(label=str(v[0]), value=int(v[1])) for v in values]


def _number(value: int) -> str:
    return f"{value:,}"


def bar_chart(
    *,
    title: str,
    bars: Sequence[Bar | tuple[str, int]],
    unit: str = "",
    width: int = 440,
    chart_id: str = "",
) -> SafeString:
    """An accessible horizontal bar chart of whole numbers as an inline ``<svg>``."""
    items = _bars(bars)
    chart_id = chart_id or "chart-" + slugify(title)
    suffix = f" {unit}" if unit else ""
    height = PADDING * 2 + ROW_HEIGHT * max(len(items), 1)
    track = max(width - LABEL_WIDTH - VALUE_WIDTH, 10)
    peak = max((b.value for b in items), default=0)
    description = "; ".join(f"{b.label}: {_number(b.value)}{suffix}" for b in items) or "No data."

    rows = []
    for index, bar in enumerate(items):
        top = PADDING + index * ROW_HEIGHT
        length = round(track * bar.value / peak, 1) if peak > 0 else 0
        middle = top + ROW_HEIGHT / 2
        rows.append(
            (
                f"bar tone-{bar.tone}" if bar.tone else "bar",
                bar.label,
                bar.value,
                f"{bar.label}: {_number(bar.value)}{suffix}",
                LABEL_WIDTH - 8,
                middle,
                bar.label,
                LABEL_WIDTH,
                top + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                length,
                BAR_HEIGHT,
                LABEL_WIDTH + length + 6,
                middle,
                _number(bar.value),
            )
        )
    body = format_html_join(
        "\n",
        '<g class="{}" data-label="{}" data-value="{}"><title>{}</title>'
        '<text class="label" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="#79aec8"></rect>'
        '<text class="value" x="{}" y="{}" dominant-baseline="middle">{}</text></g>',
        rows,
    )
    return format_html(
        '<svg class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" '
        'xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'font-size="12" fill="#333">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        '<line class="axis" x1="{x}" y1="{p}" x2="{x}" y2="{y2}" stroke="#999"></line>\n{body}</svg>',
        id=chart_id,
        w=width,
        h=height,
        title=title,
        desc=description,
        x=LABEL_WIDTH,
        p=PADDING,
        y2=height - PADDING,
        body=body,
    )
