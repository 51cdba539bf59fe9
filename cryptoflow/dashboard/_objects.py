"""The Kibana saved objects, declared in Python and written to ``dashboards/kibana/cryptoflow.ndjson``.

Declaring them here (rather than hand-editing exported JSON) keeps ids stable and readable, keeps the
Lens state consistent (every column, layer and reference is generated the same way) and lets the tests
check every field against the index templates. Regenerate after a change with
``python -m cryptoflow.dashboard._objects`` and commit the NDJSON; a test fails if the two differ.

Objects: four data views (``cryptoflow-dv-<kind>``), Lens visualisations (``cryptoflow-lens-…``), one
saved search (the trade table) and three dashboards (``cryptoflow-market``, ``cryptoflow-trading``,
``cryptoflow-realtime``), each with options-list controls for symbol, interval, strategy and source.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DATA_VIEW_IDS", "DEFAULT_PREFIX", "build_objects", "to_ndjson", "with_index_prefix"]

DEFAULT_PREFIX = "cryptoflow"
KINDS = ("candles", "indicators", "signals", "trades")
DATA_VIEW_IDS = {kind: f"cryptoflow-dv-{kind}" for kind in KINDS}
"""Stable ids of the data views, by index kind."""

_CORE_VERSION = "8.9.0"
_TYPE_VERSIONS = {"index-pattern": "8.0.0", "lens": "8.9.0", "search": "8.0.0", "dashboard": "8.9.0"}
_CLOSED = 'trade.leg : "close"'
_FILTER_FIELDS = (
    ("symbol", "Symbol"),
    ("interval", "Interval"),
    ("strategy", "Strategy"),
    ("source", "Source"),
)


def _obj(kind: str, oid: str, attributes: dict[str, Any], references: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": kind,
        "id": oid,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": _CORE_VERSION,
        "typeMigrationVersion": _TYPE_VERSIONS[kind],
        "managed": False,
    }


def _data_view(kind: str) -> dict[str, Any]:
    title = f"{DEFAULT_PREFIX}-{kind}"
    return _obj(
        "index-pattern",
        DATA_VIEW_IDS[kind],
        {"title": title, "name": f"cryptoflow {kind}", "timeFieldName": "@timestamp", "allowHidden": False},
        [],
    )


# ---- Lens columns ---------------------------------------------------------------------------------


def _date(col: str = "t") -> tuple[str, dict[str, Any]]:
    return col, {
        "label": "@timestamp",
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": "@timestamp",
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def _metric(col: str, op: str, source: str, label: str, kql: str | None = None) -> tuple[str, dict[str, Any]]:
    column: dict[str, Any] = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": op,
        "sourceField": source,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }
    if op == "last_value":
        column["params"] = {"sortField": "@timestamp", "showArrayValues": False}
        column["filter"] = {"query": f'"{source}": *', "language": "kuery"}
    if kql:
        column["filter"] = {"query": kql, "language": "kuery"}
    return col, column


def _count(col: str, label: str, kql: str | None = None) -> tuple[str, dict[str, Any]]:
    column: dict[str, Any] = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": "___records___",
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": False},
    }
    if kql:
        column["filter"] = {"query": kql, "language": "kuery"}
    return col, column


def _terms(col: str, source: str, label: str, size: int = 10) -> tuple[str, dict[str, Any]]:
    return col, {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "sourceField": source,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "alphabetical", "fallback": True},
            "orderDirection": "asc",
            "otherBucket": False,
            "missingBucket": False,
        },
    }


def _histogram(col: str, source: str, label: str) -> tuple[str, dict[str, Any]]:
    return col, {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "range",
        "sourceField": source,
        "isBucketed": True,
        "scale": "interval",
        "params": {
            "type": "histogram",
            "maxBars": "auto",
            "includeEmptyRows": True,
            "ranges": [{"from": 0, "to": 1000, "label": ""}],
        },
    }


def _cumulative(col: str, of: str, label: str) -> tuple[str, dict[str, Any]]:
    return col, {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "cumulative_sum",
        "isBucketed": False,
        "scale": "ratio",
        "references": [of],
    }


def _static(col: str, value: float) -> tuple[str, dict[str, Any]]:
    return col, {
        "label": f"{value:g}",
        "dataType": "number",
        "operationType": "static_value",
        "isStaticValue": True,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"value": f"{value:g}"},
        "references": [],
    }


def _formula(
    col: str,
    label: str,
    op: str,
    left: tuple[str, dict[str, Any]],
    right: tuple[str, dict[str, Any]],
    text: str,
    percent: bool = False,
) -> list[tuple[str, dict[str, Any]]]:
    """A Lens formula ``left <op> right`` with the hidden columns Lens keeps for it."""
    x0, x1, x2 = f"{col}X0", f"{col}X1", f"{col}X2"
    parts = [(x0, {**left[1], "label": f"Part of {label}"}), (x1, {**right[1], "label": f"Part of {label}"})]
    math = {
        "label": f"Part of {label}",
        "customLabel": True,
        "dataType": "number",
        "operationType": "math",
        "isBucketed": False,
        "scale": "ratio",
        "references": [x0, x1],
        "params": {
            "tinymathAst": {
                "type": "function",
                "name": op,
                "args": [x0, x1],
                "location": {"min": 0, "max": len(text)},
                "text": text,
            }
        },
    }
    params: dict[str, Any] = {"formula": text, "isFormulaBroken": False}
    if percent:
        params["format"] = {"id": "percent", "params": {"decimals": 1}}
    main = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "formula",
        "isBucketed": False,
        "scale": "ratio",
        "params": params,
        "references": [x2],
    }
    return [(col, main), *parts, (x2, math)]


# ---- Lens visualisations ---------------------------------------------------------------------------


@dataclass
class _Layer:
    layer_id: str
    columns: list[tuple[str, dict[str, Any]]]
    vis: dict[str, Any] = field(default_factory=dict)  # the layer's entry in the XY visualization state


def _lens(
    slug: str,
    title: str,
    kind: str,
    vis_type: str,
    layers: list[_Layer],
    visualization: dict[str, Any],
    query: str = "",
) -> dict[str, Any]:
    form_layers = {
        layer.layer_id: {
            "columns": dict(layer.columns),
            "columnOrder": [col for col, _ in layer.columns],
            "incompleteColumns": {},
            "sampling": 1,
        }
        for layer in layers
    }
    state = {
        "datasourceStates": {"formBased": {"layers": form_layers}},
        "visualization": visualization,
        "query": {"query": query, "language": "kuery"},
        "filters": [],
        "adHocDataViews": {},
        "internalReferences": [],
    }
    references = [
        {
            "type": "index-pattern",
            "id": DATA_VIEW_IDS[kind],
            "name": f"indexpattern-datasource-layer-{layer.layer_id}",
        }
        for layer in layers
    ]
    attributes = {"title": title, "description": "", "visualizationType": vis_type, "state": state}
    return _obj("lens", f"cryptoflow-lens-{slug}", attributes, references)


def _xy(
    slug: str,
    title: str,
    kind: str,
    layers: list[_Layer],
    query: str = "",
    references: tuple[float, ...] = (),
) -> dict[str, Any]:
    vis_layers = [{"layerId": layer.layer_id, "layerType": "data", **layer.vis} for layer in layers]
    all_layers = list(layers)
    if references:
        ref = _Layer(f"{slug}-ref", [_static(f"ref{i}", value) for i, value in enumerate(references)])
        all_layers.append(ref)
        vis_layers.append(
            {
                "layerId": ref.layer_id,
                "layerType": "referenceLine",
                "accessors": [col for col, _ in ref.columns],
                "yConfig": [
                    {
                        "forAccessor": col,
                        "axisMode": "left",
                        "color": "#6092C0",
                        "lineStyle": "dashed",
                        "lineWidth": 1,
                    }
                    for col, _ in ref.columns
                ],
            }
        )
    visualization = {
        "legend": {"isVisible": True, "position": "bottom"},
        "valueLabels": "hide",
        "fittingFunction": "Linear",
        "preferredSeriesType": vis_layers[0].get("seriesType", "line"),
        "layers": vis_layers,
    }
    return _lens(slug, title, kind, "lnsXY", all_layers, visualization, query)


def _series(
    layer_id: str,
    series: str,
    x: tuple[str, dict[str, Any]],
    ys: list[tuple[str, dict[str, Any]]],
    split: tuple[str, dict[str, Any]] | None = None,
    hidden: Sequence[tuple[str, dict[str, Any]]] = (),
) -> _Layer:
    columns = [x, *([split] if split else []), *ys, *hidden]
    vis = {"seriesType": series, "xAccessor": x[0], "accessors": [col for col, _ in ys]}
    if split:
        vis["splitAccessor"] = split[0]
    return _Layer(layer_id, columns, vis)


def _metric_vis(
    slug: str,
    title: str,
    kind: str,
    columns: list[tuple[str, dict[str, Any]]],
    metric: str,
    breakdown: str | None,
    query: str = "",
) -> dict[str, Any]:
    layer = _Layer(f"{slug}-l", columns)
    vis: dict[str, Any] = {
        "layerId": layer.layer_id,
        "layerType": "data",
        "metricAccessor": metric,
        "maxCols": 5,
    }
    if breakdown:
        vis["breakdownByAccessor"] = breakdown
    return _lens(slug, title, kind, "lnsMetric", [layer], vis, query)


def _table(
    slug: str,
    title: str,
    kind: str,
    columns: list[tuple[str, dict[str, Any]]],
    visible: list[str],
    query: str = "",
) -> dict[str, Any]:
    layer = _Layer(f"{slug}-l", columns)
    vis = {"layerId": layer.layer_id, "layerType": "data", "columns": [{"columnId": col} for col in visible]}
    return _lens(slug, title, kind, "lnsDatatable", [layer], vis, query)


def _market() -> list[dict[str, Any]]:
    ind = "candle.indicators"
    return [
        _xy(
            "price",
            "Price (close, high, low)",
            "candles",
            [
                _series(
                    "price-l",
                    "line",
                    _date(),
                    [
                        _metric("close", "average", "candle.close", "close"),
                        _metric("high", "max", "candle.high", "high"),
                        _metric("low", "min", "candle.low", "low"),
                    ],
                )
            ],
        ),
        _xy(
            "volume",
            "Volume",
            "candles",
            [
                _series(
                    "volume-l",
                    "bar_stacked",
                    _date(),
                    [
                        _metric("volume", "sum", "candle.volume", "volume"),
                    ],
                    split=_terms("sym", "symbol", "symbol"),
                )
            ],
        ),
        _xy(
            "rsi",
            "RSI with 30/70 bands",
            "candles",
            [
                _series(
                    "rsi-l",
                    "line",
                    _date(),
                    [
                        _metric("rsi", "average", f"{ind}.rsi", "RSI"),
                    ],
                )
            ],
            references=(70.0, 30.0),
        ),
        _xy(
            "macd",
            "MACD, signal and histogram",
            "candles",
            [
                _series(
                    "macd-l",
                    "line",
                    _date(),
                    [
                        _metric("macd", "average", f"{ind}.macd", "MACD"),
                        _metric("signal", "average", f"{ind}.macd_signal", "signal"),
                    ],
                ),
                _series(
                    "macd-h",
                    "bar",
                    _date("t2"),
                    [_metric("hist", "average", f"{ind}.macd_hist", "histogram")],
                ),
            ],
        ),
        _xy(
            "cci",
            "CCI with ±100",
            "candles",
            [
                _series(
                    "cci-l",
                    "line",
                    _date(),
                    [
                        _metric("cci", "average", f"{ind}.cci", "CCI"),
                    ],
                )
            ],
            references=(100.0, -100.0),
        ),
        _xy(
            "engulfing",
            "Engulfing candles (+1 bullish, -1 bearish)",
            "candles",
            [
                _series(
                    "engulfing-l",
                    "bar",
                    _date(),
                    [
                        _metric("bull", "max", f"{ind}.engulfing", "bullish", kql=f"{ind}.engulfing > 0"),
                        _metric("bear", "min", f"{ind}.engulfing", "bearish", kql=f"{ind}.engulfing < 0"),
                    ],
                ),
            ],
        ),
    ]


def _trading() -> list[dict[str, Any]]:
    win = _formula(
        "winrate",
        "win rate",
        "divide",
        _count("w", "wins", "trade.pnl > 0"),
        _count("n", "closed"),
        "count(kql='trade.pnl > 0') / count()",
        percent=True,
    )
    opened = _formula(
        "open",
        "open positions",
        "subtract",
        _count("o", "opened", 'trade.leg : "open"'),
        _count("c", "closed", _CLOSED),
        "count(kql='trade.leg : \"open\"') - count(kql='trade.leg : \"close\"')",
    )
    return [
        _xy(
            "cum-pnl",
            "Cumulative PnL (quote currency)",
            "trades",
            [
                _series(
                    "cum-pnl-l",
                    "line",
                    _date(),
                    [_cumulative("cum", "pnl", "cumulative PnL")],
                    split=_terms("strat", "strategy", "strategy"),
                    hidden=[_metric("pnl", "sum", "trade.pnl", "PnL")],
                )
            ],
            query=_CLOSED,
        ),
        _metric_vis(
            "win-rate",
            "Win rate, longs and shorts",
            "trades",
            [_terms("side", "trade.side", "side", 2), *win],
            "winrate",
            "side",
            query=_CLOSED,
        ),
        _xy(
            "pnl-dist",
            "PnL distribution (% per trade)",
            "trades",
            [
                _series(
                    "pnl-dist-l",
                    "bar",
                    _histogram("bucket", "trade.pnl_pct", "PnL %"),
                    [_count("trades", "trades")],
                    split=_terms("side", "trade.side", "side", 2),
                )
            ],
            query=_CLOSED,
        ),
        _table(
            "open-positions",
            "Open positions",
            "trades",
            [
                _terms("sym", "symbol", "symbol", 50),
                _terms("strat", "strategy", "strategy", 20),
                _terms("side", "trade.side", "side", 2),
                *opened,
            ],
            ["sym", "strat", "side", "open"],
        ),
    ]


def _realtime() -> list[dict[str, Any]]:
    v = "indicator.values"
    sym = _terms("sym", "symbol", "symbol", 20)
    return [
        _metric_vis(
            "rt-close",
            "Latest price",
            "indicators",
            [sym, _metric("close", "last_value", "indicator.close", "close")],
            "close",
            "sym",
        ),
        _metric_vis(
            "rt-rsi",
            "Latest RSI (intrabar)",
            "indicators",
            [sym, _metric("rsi", "last_value", f"{v}.rsi", "RSI")],
            "rsi",
            "sym",
        ),
        _metric_vis(
            "rt-cci",
            "Latest CCI (intrabar)",
            "indicators",
            [sym, _metric("cci", "last_value", f"{v}.cci", "CCI")],
            "cci",
            "sym",
        ),
        _table(
            "rt-table",
            "Latest intrabar indicators",
            "indicators",
            [
                sym,
                _metric("close", "last_value", "indicator.close", "close"),
                _metric("rsi", "last_value", f"{v}.rsi", "RSI"),
                _metric("macd", "last_value", f"{v}.macd", "MACD"),
                _metric("hist", "last_value", f"{v}.macd_hist", "MACD hist"),
                _metric("cci", "last_value", f"{v}.cci", "CCI"),
            ],
            ["sym", "close", "rsi", "macd", "hist", "cci"],
        ),
        _xy(
            "rt-price",
            "Intrabar price",
            "indicators",
            [
                _series(
                    "rt-price-l",
                    "line",
                    _date(),
                    [_metric("close", "average", "indicator.close", "close")],
                    split=sym,
                )
            ],
        ),
        _xy(
            "rt-rsi-line",
            "Intrabar RSI",
            "indicators",
            [
                _series(
                    "rt-rsi-line-l",
                    "line",
                    _date(),
                    [_metric("rsi", "average", f"{v}.rsi", "RSI")],
                    split=sym,
                )
            ],
            references=(70.0, 30.0),
        ),
    ]


def _trade_search() -> dict[str, Any]:
    source = {
        "query": {"query": "", "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    attributes = {
        "title": "Trades",
        "description": "Every trade leg, newest first",
        "columns": [
            "symbol",
            "interval",
            "strategy",
            "source",
            "trade.leg",
            "trade.side",
            "trade.quantity",
            "trade.price",
            "trade.fees",
            "trade.pnl",
            "trade.pnl_pct",
            "trade.exit_reason",
        ],
        "sort": [["@timestamp", "desc"]],
        "grid": {},
        "hideChart": True,
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source, sort_keys=True)},
    }
    refs = [
        {
            "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
            "type": "index-pattern",
            "id": DATA_VIEW_IDS["trades"],
        }
    ]
    return _obj("search", "cryptoflow-search-trades", attributes, refs)


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
    for order, (field_name, label) in enumerate(_FILTER_FIELDS):
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
    return _obj("dashboard", f"cryptoflow-{slug}", attributes, references)


def build_objects() -> list[dict[str, Any]]:
    """Every saved object, data views first (Kibana resolves references within one import)."""
    market, trading, realtime, search = _market(), _trading(), _realtime(), _trade_search()
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
    return [*(_data_view(kind) for kind in KINDS), *market, *trading, *realtime, search, *dashboards]


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    """One object per line, keys sorted: a stable, diff-friendly file."""
    return "".join(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n" for obj in objects)


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


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[2] / "dashboards" / "kibana" / "cryptoflow.ndjson"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(to_ndjson(build_objects()), encoding="utf-8")
