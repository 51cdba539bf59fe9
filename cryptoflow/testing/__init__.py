"""Test kits: stand-ins and helpers for tests, benchmarks and the demo (``fake_binance``: a local fake
Binance exchange). Nothing here is used by the live code paths."""

__all__: list[str] = []
