"""Dashboards: Kibana saved objects and their import, and the built-in dashboard page.

>>> from cryptoflow.dashboard import build_objects
>>> sorted(o["id"] for o in build_objects() if o["type"] == "dashboard")
['cryptoflow-market', 'cryptoflow-realtime', 'cryptoflow-trading']
"""

from typing import TYPE_CHECKING

from cryptoflow.dashboard._kibana import (
    MIN_KIBANA_VERSION,
    ImportResult,
    KibanaAuth,
    KibanaClient,
    KibanaError,
    default_objects_dir,
    read_objects,
)
from cryptoflow.dashboard._objects import DATA_VIEW_IDS, build_objects, to_ndjson, with_index_prefix

if TYPE_CHECKING:  # imported on first use, by __getattr__ below
    from cryptoflow.dashboard._server import DashboardServer

__all__ = [
    "DATA_VIEW_IDS",
    "MIN_KIBANA_VERSION",
    "DashboardServer",
    "ImportResult",
    "KibanaAuth",
    "KibanaClient",
    "KibanaError",
    "build_objects",
    "default_objects_dir",
    "read_objects",
    "to_ndjson",
    "with_index_prefix",
]


def __getattr__(name: str) -> object:
    if name == "DashboardServer":  # the web server pulls in Elasticsearch; import it when asked for
        from cryptoflow.dashboard._server import DashboardServer

        return DashboardServer
    raise AttributeError(name)
