from tests.sink.conftest import pipeline  # noqa: F401 - the same per-test prefixes
