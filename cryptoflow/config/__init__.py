"""Settings: one typed object, read from the environment (``CRYPTOFLOW_*``), ``.env`` and a TOML file."""

from cryptoflow.config._redact import RedactingFilter, mask_credentials, register_secret
from cryptoflow.config._settings import (
    NOTICE_KINDS,
    BinanceSettings,
    ElasticsearchSettings,
    KafkaSettings,
    Market,
    NoticeKind,
    NotifySettings,
    NotifyTarget,
    PartitionPolicy,
    RetentionSettings,
    Settings,
    StackSettings,
    load_settings,
    masked,
    read_toml,
)

__all__ = [
    "BinanceSettings",
    "ElasticsearchSettings",
    "KafkaSettings",
    "Market",
    "NOTICE_KINDS",
    "NoticeKind",
    "NotifySettings",
    "NotifyTarget",
    "PartitionPolicy",
    "RedactingFilter",
    "RetentionSettings",
    "Settings",
    "StackSettings",
    "load_settings",
    "mask_credentials",
    "masked",
    "read_toml",
    "register_secret",
]
