"""Intrabar stream: indicators recomputed on every kline update (every 2-3 seconds).

Every kline update of the still-open candle gives provisional indicators (the streaming engine's
``peek``, which leaves the state untouched) published as ``indicator`` events; every closed candle
updates the state and is published as a ``candle`` event with its indicators. Many symbols share one
websocket connection.
"""

from realtime_indicator._stream import IntrabarIndicators, RealtimeOptions, run_realtime

__all__ = ["IntrabarIndicators", "RealtimeOptions", "run_realtime"]
