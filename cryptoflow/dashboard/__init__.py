"""The built-in dashboard page (``cryptoflow dashboard serve``): Market, Trading and Realtime views drawn
with Plotly in the browser, from a small JSON API that reads the sink's indices in Elasticsearch.

The Kibana dashboards are another package: :mod:`cryptoflow.kibana`.

>>> from cryptoflow.config import load_settings
>>> from cryptoflow.dashboard import DashboardServer
>>> DashboardServer(load_settings().elasticsearch, port=0).serve_forever()  # doctest: +SKIP
"""

from cryptoflow.dashboard._server import DashboardServer

__all__ = ["DashboardServer"]
