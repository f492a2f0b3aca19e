"""The charts' glue for the templates: the hook page's day and the list's sparklines.

Template globals, so the pages only include ``webhooks/_day_chart.html`` and
``webhooks/_trend.html``; the shapes come from ``domain/charts.py`` and the
words from the templates, in the page's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, current_app

from ..domain.charts import DayChart, Sparkline, day_chart, path, sparkline


def day_chart_of(hook: Any) -> DayChart:
    return day_chart(current_app.extensions["crm_webhooks"].last_day(hook.id))


def sparklines_of(hooks: Iterable[Any]) -> Mapping[int, Sparkline]:
    """Every listed hook's sparkline, from one query."""
    days = current_app.extensions["crm_webhooks"].last_day_by_hook([hook.id for hook in hooks])
    return {hook_id: sparkline(stats) for hook_id, stats in days.items()}


def register(app: Flask) -> None:
    app.add_template_global(day_chart_of)
    app.add_template_global(sparklines_of)
    app.add_template_filter(path, "svg_path")
