"""The demo: cryptoflow on its local default, everything running at once on the real local stack.

:func:`run_demo` starts the local Kafka + Elasticsearch, then as supervised child processes the fake
Binance exchange replaying the bundled real 5m samples of several symbols, ``realtime_indicator`` and
``auto_trade`` (paper broker) reading it over Binance's real protocol, the sink and the dashboard page.
The same candles are backtested (report written for comparison) and that run is replayed through Kafka
too. ``cryptoflow demo`` is its command; what it tells the user goes through a :class:`DemoView`.
"""

from cryptoflow.demo._counts import LiveCounts, indexed_counts, live_counts
from cryptoflow.demo._run import LIVE_RUN_ID, DemoOptions, DemoView, run_demo

__all__ = [
    "LIVE_RUN_ID",
    "DemoOptions",
    "DemoView",
    "LiveCounts",
    "indexed_counts",
    "live_counts",
    "run_demo",
]
