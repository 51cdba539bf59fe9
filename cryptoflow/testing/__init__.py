"""The test kit: stand-ins and helpers for tests, benchmarks and the demo, importable from a checkout.
Nothing here is used by the live code paths.

- :mod:`cryptoflow.testing.fake_binance`: a local fake Binance exchange (REST, websockets, orders), and
  one replaying the shared candle files from a background thread (``replay_exchange``);
- :mod:`cryptoflow.testing.services`: per-test Kafka topic and Elasticsearch index prefixes, a clean
  environment for ``cryptoflow`` subprocesses, reading what a test published or indexed, cleaning up,
  waiting for a condition while watching the test's child processes, consumer groups' progress, a free
  TCP port;
- :mod:`cryptoflow.testing.events`: small, deterministic events of every kind, also at given times;
- :mod:`cryptoflow.testing.webhooks`: a local webhook receiver that records requests and answers as
  scripted (``cryptoflow notify``'s targets);
- :mod:`cryptoflow.testing.browser`: a real headless Chromium (Selenium) for tests that look at pages;
- :mod:`cryptoflow.testing.data`: the shared real candle files and a marker skipping tests without them
  (needs pytest).

Import the submodule you need (``from cryptoflow.testing.services import cleanup``): this package
imports none of them, so using one never loads the others' dependencies.
"""

__all__ = ["browser", "data", "events", "fake_binance", "services", "webhooks"]
