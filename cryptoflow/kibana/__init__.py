"""Kibana: the saved objects (data views, Lens visualisations, a saved search and the Market, Trading and
Realtime dashboards) declared in Python, the NDJSON file they ship as, and a client for Kibana's saved
objects import API (``cryptoflow dashboards import``).

``dashboards/kibana/cryptoflow.ndjson`` is generated from :func:`build_objects`; after a change, run
``python -m cryptoflow.kibana`` and commit the file (a test fails while the two differ).

>>> from cryptoflow.kibana import build_objects
>>> sorted(o["id"] for o in build_objects() if o["type"] == "dashboard")
['cryptoflow-market', 'cryptoflow-realtime', 'cryptoflow-trading']
"""

from cryptoflow.kibana._client import MIN_KIBANA_VERSION, ImportResult, KibanaAuth, KibanaClient, KibanaError
from cryptoflow.kibana._dashboards import build_objects, with_index_prefix
from cryptoflow.kibana._files import default_objects_dir, read_objects, to_ndjson
from cryptoflow.kibana._import import KibanaImport, KibanaTarget, import_saved_objects
from cryptoflow.kibana._saved import DATA_VIEW_IDS

__all__ = [
    "DATA_VIEW_IDS",
    "MIN_KIBANA_VERSION",
    "ImportResult",
    "KibanaAuth",
    "KibanaClient",
    "KibanaError",
    "KibanaImport",
    "KibanaTarget",
    "build_objects",
    "import_saved_objects",
    "default_objects_dir",
    "read_objects",
    "to_ndjson",
    "with_index_prefix",
]
