"""Intrabar stream: indicators recomputed on every kline update (every 2-3 seconds)."""
