"""The Kibana saved objects: they parse, are what the generator declares (stable ids), every reference
resolves, and every field a visualisation, search or control uses exists in the index templates with a
type its operation accepts."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cryptoflow.config import ElasticsearchSettings
from cryptoflow.elastic import INDEX_KINDS, template_body
from cryptoflow.kibana import (
    DATA_VIEW_IDS,
    build_objects,
    default_objects_dir,
    read_objects,
    to_ndjson,
    with_index_prefix,
)

NDJSON = default_objects_dir() / "cryptoflow.ndjson"
STABLE_IDS = {  # renaming one orphans what users saved on top of it: change only on purpose
    "index-pattern": {
        "cryptoflow-dv-candles",
        "cryptoflow-dv-indicators",
        "cryptoflow-dv-signals",
        "cryptoflow-dv-trades",
        "cryptoflow-dv-locks",
        "cryptoflow-dv-errors",
    },
    "dashboard": {"cryptoflow-market", "cryptoflow-trading", "cryptoflow-realtime"},
    "search": {"cryptoflow-search-trades"},
    "lens": {
        f"cryptoflow-lens-{slug}"
        for slug in (
            "price",
            "volume",
            "rsi",
            "macd",
            "cci",
            "engulfing",
            "cum-pnl",
            "win-rate",
            "pnl-dist",
            "open-positions",
            "rt-close",
            "rt-rsi",
            "rt-cci",
            "rt-table",
            "rt-price",
            "rt-rsi-line",
        )
    },
}
NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
# which mapping types each Lens operation accepts for its sourceField
ACCEPTS = {
    "date_histogram": {"date"},
    "average": NUMERIC,
    "sum": NUMERIC,
    "min": NUMERIC,
    "max": NUMERIC,
    "median": NUMERIC,
    "range": NUMERIC,
    "standard_deviation": NUMERIC,
    "terms": {"keyword", "boolean", "ip"} | NUMERIC,
    "last_value": {"keyword", "boolean", "date"} | NUMERIC,
    "unique_count": {"keyword", "boolean", "date"} | NUMERIC,
}
FIELDLESS = {"count", "formula", "math", "cumulative_sum", "static_value", "differences", "moving_average"}


def _flatten(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    fields = {}
    for name, spec in properties.items():
        if "properties" in spec:
            fields |= _flatten(spec["properties"], f"{prefix}{name}.")
        elif spec.get("enabled", True):
            fields[f"{prefix}{name}"] = spec["type"]
    return fields


@pytest.fixture(scope="module")
def fields_by_view() -> dict[str, dict[str, str]]:
    settings = ElasticsearchSettings()
    return {
        DATA_VIEW_IDS[kind]: _flatten(template_body(settings, kind)["template"]["mappings"]["properties"])
        for kind in INDEX_KINDS
    }


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return read_objects(default_objects_dir())


def test_ndjson_parses_and_matches_the_generator(objects: list[dict[str, Any]]) -> None:
    for number, line in enumerate(NDJSON.read_text(encoding="utf-8").splitlines(), start=1):
        obj = json.loads(line)
        assert {"type", "id", "attributes", "references"} <= set(obj), f"line {number}"
    assert NDJSON.read_text(encoding="utf-8") == to_ndjson(build_objects()), (
        "dashboards/kibana/cryptoflow.ndjson is stale: run `python -m cryptoflow.kibana`"
    )
    assert objects == build_objects()


def test_ids_are_stable_and_unique(objects: list[dict[str, Any]]) -> None:
    keys = [(obj["type"], obj["id"]) for obj in objects]
    assert len(keys) == len(set(keys)), "duplicate saved object ids"
    by_type: dict[str, set[str]] = {}
    for kind, oid in keys:
        by_type.setdefault(kind, set()).add(oid)
    assert by_type == STABLE_IDS
    assert build_objects() == build_objects(), "generation must be deterministic"


def test_every_reference_resolves(objects: list[dict[str, Any]]) -> None:
    present = {(obj["type"], obj["id"]) for obj in objects}
    for obj in objects:
        names = [ref["name"] for ref in obj["references"]]
        assert len(names) == len(set(names)), f"{obj['id']}: duplicate reference names"
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in present, f"{obj['id']} -> missing {ref['type']} {ref['id']}"


def test_dashboard_panels_and_controls_match_their_references(objects: list[dict[str, Any]]) -> None:
    for obj in (o for o in objects if o["type"] == "dashboard"):
        refs = {ref["name"]: ref for ref in obj["references"]}
        panels = json.loads(obj["attributes"]["panelsJSON"])
        assert panels, obj["id"]
        for panel in panels:
            ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert ref["type"] == panel["type"]
            grid = panel["gridData"]
            assert grid["x"] + grid["w"] <= 48 and grid["i"] == panel["panelIndex"]
        controls = json.loads(obj["attributes"]["controlGroupInput"]["panelsJSON"])
        fields = {control["explicitInput"]["fieldName"] for control in controls.values()}
        assert fields == {"symbol", "interval", "strategy", "source"}, obj["id"]
        for cid in controls:
            assert refs[f"controlGroup_{cid}:optionsListDataView"]["type"] == "index-pattern"
    realtime = next(o for o in objects if o["id"] == "cryptoflow-realtime")["attributes"]
    assert realtime["refreshInterval"] == {"pause": False, "value": 5000}


def _kql_fields(query: str) -> set[str]:
    return set(re.findall(r'"?([A-Za-z@][\w.]*)"?\s*(?::|>=|<=|>|<)', query))


def _uses(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(data view id, field, operation) for every field the object reads."""
    refs = {ref["name"]: ref["id"] for ref in obj["references"]}
    used = []
    if obj["type"] == "lens":
        state = obj["attributes"]["state"]
        views = set()
        for layer_id, layer in state["datasourceStates"]["formBased"]["layers"].items():
            view = refs[f"indexpattern-datasource-layer-{layer_id}"]
            views.add(view)
            for column in layer["columns"].values():
                op = column["operationType"]
                if op not in FIELDLESS:
                    used.append((view, column["sourceField"], op))
                if op == "last_value":
                    used.append((view, column["params"]["sortField"], "date_histogram"))
                for field in _kql_fields((column.get("filter") or {}).get("query", "")):
                    used.append((view, field, "kql"))
                formula = (column.get("params") or {}).get("formula", "")
                for field in _kql_fields(" ".join(re.findall(r"kql='([^']*)'", formula))):
                    used.append((view, field, "kql"))
        for view in views:
            for field in _kql_fields(state["query"]["query"]):
                used.append((view, field, "kql"))
    elif obj["type"] == "search":
        view = refs["kibanaSavedObjectMeta.searchSourceJSON.index"]
        used += [(view, column, "column") for column in obj["attributes"]["columns"]]
        used += [(view, column, "date_histogram") for column, _ in obj["attributes"]["sort"]]
    elif obj["type"] == "dashboard":
        controls = json.loads(obj["attributes"]["controlGroupInput"]["panelsJSON"])
        for cid, control in controls.items():
            used.append(
                (
                    refs[f"controlGroup_{cid}:optionsListDataView"],
                    control["explicitInput"]["fieldName"],
                    "terms",
                )
            )
    elif obj["type"] == "index-pattern":
        used.append((obj["id"], obj["attributes"]["timeFieldName"], "date_histogram"))
    return used


def test_every_field_exists_in_the_index_templates_with_a_compatible_type(
    objects: list[dict[str, Any]], fields_by_view: dict[str, dict[str, str]]
) -> None:
    checked = 0
    for obj in objects:
        for view, field, op in _uses(obj):
            mapping = fields_by_view[view]
            assert field in mapping, f"{obj['id']}: field {field!r} is not in the template of {view}"
            if op in ACCEPTS:
                assert mapping[field] in ACCEPTS[op], (
                    f"{obj['id']}: {op} on {field!r}, mapped as {mapping[field]}, needs {sorted(ACCEPTS[op])}"
                )
            checked += 1
    assert checked > 80, f"only {checked} field uses found: is the walk of the objects broken?"


def test_data_views_point_at_the_sinks_indices() -> None:
    settings = ElasticsearchSettings()
    from cryptoflow.elastic import index_alias

    views = {o["id"]: o["attributes"]["title"] for o in build_objects() if o["type"] == "index-pattern"}
    assert views == {DATA_VIEW_IDS[kind]: index_alias(settings, kind) for kind in INDEX_KINDS}
    renamed = with_index_prefix(build_objects(), "prod")
    titles = {o["attributes"]["title"] for o in renamed if o["type"] == "index-pattern"}
    assert titles == {f"prod-{kind}" for kind in INDEX_KINDS}
    assert [o["id"] for o in renamed] == [o["id"] for o in build_objects()]
