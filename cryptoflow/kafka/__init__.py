"""Kafka: client configuration from settings, topic naming and creation."""

from cryptoflow.kafka._clients import TOPIC_KINDS, client_config, ensure_topics, topic_name

__all__ = ["TOPIC_KINDS", "client_config", "ensure_topics", "topic_name"]
