"""Charts rendered on the server as inline SVG (pygal, its JavaScript switched off).

No build step, no CDN and no script: the page carries the picture itself. Every
chart has a text alternative (`<title>` and `<desc>`, named by `aria-labelledby`
on an SVG with `role="img"`), and the pages put the same numbers in a table
beside it, so nothing is only in the picture. The palette is Okabe and Ito's,
which people with the common colour-vision deficiencies can tell apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pygal
from markupsafe import Markup
from pygal.style import Style

from ledger.domain.invariants import invariant
from ledger.http.web.formatting import format_amount, format_count
from ledger.http.web.i18n import Language

bars_max: Final = 400  # x labels of one chart: a month of days is 31
series_max: Final = 16  # more stacked parts than this no one can tell apart
legend_columns: Final = 3
legend_row_px: Final = 22
value_ticks_max: Final = 16  # pygal's own default
value_ticks_horizontal_max: Final = 6

PALETTE: Final = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
_STYLE: Final = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#595959",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    title_font_size=16,
    colors=PALETTE * 2,
    opacity="1",
    opacity_hover="0.85",
)


@dataclass(frozen=True)
class Series:
    """One coloured part of a chart: a label and one value per x label (None: no bar)."""

    label: str
    values: Sequence[int | None]


def _accessible(title: str, description: str) -> Callable[[Any], Any]:
    """An XML filter: drop pygal's script, name the SVG with role=img, title and desc."""

    def named(root: Any) -> Any:
        for script in [node for node in root.iter() if str(node.tag).endswith("script")]:
            script.getparent().remove(script)
        for node in root.iter():
            if str(node.get("id", "")).startswith("activate-serie"):
                del node.attrib["id"]  # pygal repeats these in every chart: ids must be unique
        chart_id = str(root.get("id"))
        namespace = str(root.tag)[: str(root.tag).index("}") + 1] if "}" in str(root.tag) else ""
        root.set("role", "img")
        root.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
        title_node = root.makeelement(namespace + "title", {"id": f"{chart_id}-title"})
        title_node.text = title
        desc_node = root.makeelement(namespace + "desc", {"id": f"{chart_id}-desc"})
        desc_node.text = description
        root.insert(0, desc_node)
        root.insert(0, title_node)
        return root

    return named


def _render(
    chart: pygal.graph.graph.Graph,
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    description: str,
) -> Markup:
    invariant(len(labels) <= bars_max, f"a chart of {len(labels)} bars is too many to read")
    invariant(len(series) <= series_max, f"a chart of {len(series)} series is too many to read")
    for part in series:
        invariant(len(part.values) == len(labels), f"series {part.label} has the wrong length")
    # pygal draws the bottom legend's first row at (height - margin_bottom + 7), so a
    # margin of a row per legend row keeps the last row inside the picture.
    legend_rows = -(-len(series) // legend_columns)
    chart.margin_bottom = 12 + legend_row_px * legend_rows
    chart.x_labels = list(labels)
    for part in series:
        chart.add(part.label, list(part.values))
    chart.add_xml_filter(_accessible(title, description))
    svg = chart.render(is_unicode=True)
    invariant("<script" not in svg, "a chart carries a script")
    # Markup: the SVG is serialised by lxml, which escapes every label and value.
    return Markup(svg)


def _config(language: Language, money: bool, height: int) -> dict[str, object]:
    formatter: Callable[[float], str]
    if money:

        def formatter(value: float) -> str:
            return format_amount(int(value), language)  # the values are whole øre
    else:

        def formatter(value: float) -> str:
            return format_count(int(value), language)

    return {
        "js": [],  # no script, nothing from a CDN
        "disable_xml_declaration": True,
        "style": _STYLE,
        "height": height,
        "width": 960,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": legend_columns,
        "truncate_legend": -1,  # whole labels: a reason code cut short says nothing
        "value_formatter": formatter,
        "show_minor_x_labels": True,
        "margin": 12,
    }


def stacked_bars_by_day(
    title: str,
    description: str,
    day_labels: Sequence[str],
    series: Sequence[Series],
    language: Language = "nb",
    *,
    money: bool = False,
    height: int = 360,
) -> Markup:
    """One stacked bar per day (counts, or øre with `money`), parts in `series` order."""
    chart = pygal.StackedBar(
        **_config(language, money, height), x_label_rotation=-45, truncate_label=-1
    )
    return _render(chart, day_labels, series, title, description)


def bar_chart(
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    language: Language = "nb",
    *,
    money: bool = False,
    horizontal: bool = False,
    height: int = 360,
) -> Markup:
    """Grouped bars per label (e.g. spend and cap per licence); horizontal for long labels."""
    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    # Money labels ("kr 250 000,00") are wide: fewer ticks on a horizontal value axis,
    # so they never run into each other.
    ticks_max = value_ticks_horizontal_max if horizontal else value_ticks_max
    chart = kind(
        **_config(language, money, height),
        x_label_rotation=0,
        truncate_label=-1,
        max_scale=ticks_max,
    )
    return _render(chart, labels, series, title, description)
