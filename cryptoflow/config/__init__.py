"""Settings: one typed object, read from the environment (``CRYPTOFLOW_*``), ``.env`` and a TOML file."""

from cryptoflow.config._settings import (
    BinanceSettings,
    ElasticsearchSettings,
    KafkaSettings,
    PartitionPolicy,
    RetentionSettings,
    Settings,
    StackSettings,
    load_settings,
    masked,
)

__all__ = [
    "BinanceSettings",
    "ElasticsearchSettings",
    "KafkaSettings",
    "PartitionPolicy",
    "RetentionSettings",
    "Settings",
    "StackSettings",
    "load_settings",
    "masked",
]
