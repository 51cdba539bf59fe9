"""The test kit: helpers for cryptoflow's tests and benchmarks, importable from a checkout.

- :mod:`cryptoflow.testing.services`: per-test Kafka topic and Elasticsearch index prefixes, reading
  what a test published or indexed, cleaning up, waiting for a condition, a free TCP port;
- :mod:`cryptoflow.testing.events`: small, deterministic events of every kind;
- :mod:`cryptoflow.testing.data`: the shared real candle files and a marker skipping tests without them
  (needs pytest).

Import the submodule you need (``from cryptoflow.testing.services import cleanup``): this package
imports none of them, so using one never loads the others' dependencies.
"""

__all__ = ["data", "events", "services"]
