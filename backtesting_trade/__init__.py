"""Replay of a backtest's candles and trades through Kafka into Elasticsearch."""
