"""Elasticsearch mappings derived from the event models, so the two never drift apart.

Rules: ``@timestamp`` and every ``*_ms`` field are dates (epoch milliseconds for the latter), strings and
literals are keywords, floats doubles, ints longs, bools booleans, nested models objects, and free-form
dictionaries (a signal's ``params``) are stored but not indexed. Unknown fields are rejected
(``dynamic: strict``): a document that does not match its schema is an error, not a silent new field.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel

from cryptoflow.events._models import Event
from cryptoflow.events._vocabulary import EVENT_INDICES, EventKind

__all__ = ["index_mappings", "model_mapping"]

# the members of the Event union, each by its schema name
_MODELS: dict[EventKind, type[BaseModel]] = {
    model.model_fields["schema_name"].default: model for model in typing.get_args(typing.get_args(Event)[0])
}


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return _strip_optional(args[0])
    if origin is typing.Annotated:
        return _strip_optional(typing.get_args(annotation)[0])
    return annotation


def _field_mapping(name: str, annotation: Any) -> dict[str, Any]:
    annotation = _strip_optional(annotation)
    if name == "@timestamp":
        return {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
    if name.endswith("_ms"):
        return {"type": "date", "format": "epoch_millis"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_mapping(annotation)
    origin = typing.get_origin(annotation)
    if origin is Literal and all(isinstance(arg, int) for arg in typing.get_args(annotation)):
        return {"type": "integer"}
    if origin is Literal or annotation is str:
        return {"type": "keyword", "ignore_above": 1024}
    if origin is dict or annotation is dict:
        return {"type": "object", "enabled": False}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "long"}
    if annotation is float:
        return {"type": "double"}
    raise TypeError(f"no Elasticsearch mapping rule for field {name!r} of type {annotation!r}")


def model_mapping(model: type[BaseModel]) -> dict[str, Any]:
    """The ``properties`` mapping of one pydantic model (recursively)."""
    properties = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        properties[key] = _field_mapping(key, field.annotation)
    return {"properties": properties}


def index_mappings() -> dict[str, dict[str, Any]]:
    """``{"candles": mapping, "indicators": …, "signals": …, "trades": …, "locks": …, "errors": …}`` for
    index templates (by index kind, :data:`~cryptoflow.events.EVENT_INDICES`).

    Each mapping has ``dynamic: strict`` at the root and in every object.
    """

    def strict(mapping: dict[str, Any]) -> dict[str, Any]:
        properties = {
            key: strict(value) if "properties" in value else value
            for key, value in mapping["properties"].items()
        }
        return {"dynamic": "strict", "properties": properties}

    return {EVENT_INDICES[name]: strict(model_mapping(model)) for name, model in _MODELS.items()}
