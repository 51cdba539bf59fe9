"""The three dashboards (Market, Trading, Realtime), laid out on Kibana's 48-column grid with options-list
controls for symbol, interval, strategy and source, and every saved object in import order.

Declaring the objects in Python (rather than hand-editing exported JSON) keeps ids stable and readable
and lets the tests check every field against the index templates. The shipped file
``dashboards/kibana/cryptoflow.ndjson`` is generated from :func:`build_objects`: regenerate it after a
change with ``python -m cryptoflow.kibana`` and commit it; a test fails if the two differ.
"""

from __future__ import annotations

import json
from typing import Any

from cryptoflow.events import FILTER_FIELDS
from cryptoflow.kibana import _panels
from cryptoflow.kibana._saved import DATA_VIEW_IDS, DEFAULT_PREFIX, KINDS, data_view, saved_object

__all__ = ["build_objects", "with_index_prefix"]


def _dashboard(
    slug: str,
    title: str,
    description: str,
    filter_kind: str,
    panels: list[dict[str, Any]],
    time_from: str,
    refresh_ms: int | None,
) -> dict[str, Any]:
    grid, references, x, y, row_h = [], [], 0, 0, 0
    for number, panel in enumerate(panels, start=1):
        pid = f"{slug}-p{number}"
        w = 48 if panel["type"] == "search" else 24
        h = 15 if panel["type"] != "lens" or panel["attributes"]["visualizationType"] != "lnsMetric" else 8
        if x + w > 48:
            x, y, row_h = 0, y + row_h, 0
        grid.append(
            {
                "type": panel["type"],
                "panelIndex": pid,
                "panelRefName": f"panel_{pid}",
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": pid},
                "embeddableConfig": {"enhancements": {}},
            }
        )
        references.append({"name": f"{pid}:panel_{pid}", "type": panel["type"], "id": panel["id"]})
        x, row_h = x + w, max(row_h, h)
    controls = {}
    for order, field_name in enumerate(FILTER_FIELDS):
        label = field_name.title()
        cid = f"{slug}-c-{field_name}"
        controls[cid] = {
            "order": order,
            "width": "medium",
            "grow": True,
            "type": "optionsListControl",
            "explicitInput": {
                "id": cid,
                "fieldName": field_name,
                "title": label,
                "selectedOptions": [],
                "searchTechnique": "prefix",
                "enhancements": {},
            },
        }
        references.append(
            {
                "name": f"controlGroup_{cid}:optionsListDataView",
                "type": "index-pattern",
                "id": DATA_VIEW_IDS[filter_kind],
            }
        )
    attributes = {
        "title": title,
        "description": description,
        "version": 1,
        "panelsJSON": json.dumps(grid, sort_keys=True),
        "optionsJSON": json.dumps(
            {
                "useMargins": True,
                "syncColors": False,
                "syncCursor": True,
                "syncTooltips": False,
                "hidePanelTitles": False,
            },
            sort_keys=True,
        ),
        "timeRestore": True,
        "timeFrom": time_from,
        "timeTo": "now",
        "refreshInterval": {"pause": refresh_ms is None, "value": refresh_ms or 60000},
        "kibanaSavedObjectMeta": {
            "searchSourceJSON": json.dumps(
                {"query": {"query": "", "language": "kuery"}, "filter": []}, sort_keys=True
            )
        },
        "controlGroupInput": {
            "chainingSystem": "HIERARCHICAL",
            "controlStyle": "oneLine",
            "ignoreParentSettingsJSON": json.dumps(
                {
                    "ignoreFilters": False,
                    "ignoreQuery": False,
                    "ignoreTimerange": False,
                    "ignoreValidations": False,
                }
            ),
            "panelsJSON": json.dumps(controls, sort_keys=True),
        },
    }
    return saved_object("dashboard", f"cryptoflow-{slug}", attributes, references)


def build_objects() -> list[dict[str, Any]]:
    """Every saved object, data views first (Kibana resolves references within one import)."""
    market, trading, realtime = _panels.market(), _panels.trading(), _panels.realtime()
    search = _panels.trade_search()
    dashboards = [
        _dashboard(
            "market",
            "cryptoflow Market",
            "Price, volume, RSI, MACD, CCI and engulfing candles",
            "candles",
            market,
            "now-7d",
            None,
        ),
        _dashboard(
            "trading",
            "cryptoflow Trading",
            "Trades, cumulative PnL, win rate, PnL distribution, open positions",
            "trades",
            [search, *trading],
            "now-30d",
            None,
        ),
        _dashboard(
            "realtime",
            "cryptoflow Realtime",
            "Latest intrabar indicators (refreshes every 5 s)",
            "indicators",
            realtime,
            "now-1h",
            5000,
        ),
    ]
    return [*(data_view(kind) for kind in KINDS), *market, *trading, *realtime, search, *dashboards]


def with_index_prefix(objects: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The objects with data view titles for indices named ``<prefix>-<kind>`` (ids stay the same)."""
    out = []
    for obj in objects:
        if obj.get("type") == "index-pattern" and prefix != DEFAULT_PREFIX:
            title = obj["attributes"]["title"]
            if title.startswith(f"{DEFAULT_PREFIX}-"):
                obj = {
                    **obj,
                    "attributes": {**obj["attributes"], "title": prefix + title[len(DEFAULT_PREFIX) :]},
                }
        out.append(obj)
    return out
