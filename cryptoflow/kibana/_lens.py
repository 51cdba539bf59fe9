"""Lens building blocks: columns (``date``, ``metric``, ``count``, ``terms`` …) and the visualisations
made of them (``xy``, ``metric_vis``, ``table``).

Every column, layer and reference is generated the same way, so the Lens state stays consistent; a
column is a ``(column id, column state)`` pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptoflow.kibana._saved import DATA_VIEW_IDS, saved_object

__all__ = [
    "Column",
    "Layer",
    "count",
    "cumulative",
    "date",
    "formula",
    "histogram",
    "metric",
    "metric_vis",
    "series",
    "table",
    "terms",
    "xy",
]

Column = tuple[str, dict[str, Any]]
"""A Lens column: its id and its state."""

# ---- Lens columns ---------------------------------------------------------------------------------


def date(col: str = "t") -> Column:
    return col, {
        "label": "@timestamp",
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": "@timestamp",
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def metric(col: str, op: str, source: str, label: str, kql: str | None = None) -> Column:
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


def count(col: str, label: str, kql: str | None = None) -> Column:
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


def terms(col: str, source: str, label: str, size: int = 10) -> Column:
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


def histogram(col: str, source: str, label: str) -> Column:
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


def cumulative(col: str, of: str, label: str) -> Column:
    return col, {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "cumulative_sum",
        "isBucketed": False,
        "scale": "ratio",
        "references": [of],
    }


def static(col: str, value: float) -> Column:
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


def formula(
    col: str,
    label: str,
    op: str,
    left: Column,
    right: Column,
    text: str,
    percent: bool = False,
) -> list[Column]:
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
class Layer:
    layer_id: str
    columns: list[Column]
    vis: dict[str, Any] = field(default_factory=dict)  # the layer's entry in the XY visualization state


def lens(
    slug: str,
    title: str,
    kind: str,
    vis_type: str,
    layers: list[Layer],
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
    return saved_object("lens", f"cryptoflow-lens-{slug}", attributes, references)


def xy(
    slug: str,
    title: str,
    kind: str,
    layers: list[Layer],
    query: str = "",
    references: tuple[float, ...] = (),
) -> dict[str, Any]:
    vis_layers = [{"layerId": layer.layer_id, "layerType": "data", **layer.vis} for layer in layers]
    all_layers = list(layers)
    if references:
        ref = Layer(f"{slug}-ref", [static(f"ref{i}", value) for i, value in enumerate(references)])
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
    return lens(slug, title, kind, "lnsXY", all_layers, visualization, query)


def series(
    layer_id: str,
    series: str,
    x: Column,
    ys: list[Column],
    split: Column | None = None,
    hidden: Sequence[Column] = (),
) -> Layer:
    columns = [x, *([split] if split else []), *ys, *hidden]
    vis = {"seriesType": series, "xAccessor": x[0], "accessors": [col for col, _ in ys]}
    if split:
        vis["splitAccessor"] = split[0]
    return Layer(layer_id, columns, vis)


def metric_vis(
    slug: str,
    title: str,
    kind: str,
    columns: list[Column],
    metric: str,
    breakdown: str | None,
    query: str = "",
) -> dict[str, Any]:
    layer = Layer(f"{slug}-l", columns)
    vis: dict[str, Any] = {
        "layerId": layer.layer_id,
        "layerType": "data",
        "metricAccessor": metric,
        "maxCols": 5,
    }
    if breakdown:
        vis["breakdownByAccessor"] = breakdown
    return lens(slug, title, kind, "lnsMetric", [layer], vis, query)


def table(
    slug: str,
    title: str,
    kind: str,
    columns: list[Column],
    visible: list[str],
    query: str = "",
) -> dict[str, Any]:
    layer = Layer(f"{slug}-l", columns)
    vis = {"layerId": layer.layer_id, "layerType": "data", "columns": [{"columnId": col} for col in visible]}
    return lens(slug, title, kind, "lnsDatatable", [layer], vis, query)
