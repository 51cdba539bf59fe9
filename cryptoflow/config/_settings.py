"""One typed settings object, read from the environment, ``.env`` and an optional TOML file."""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from cryptoflow.config._redact import mask_credentials, register_secret
from cryptoflow.errors import ConfigurationError
from cryptoflow.events import Source

log = logging.getLogger("cryptoflow.config")

ENV_PREFIX = "CRYPTOFLOW_"
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._\-]*$")

OTHER_VARIABLES = frozenset(
    {
        f"{ENV_PREFIX}CONFIG",  # the TOML file
        f"{ENV_PREFIX}FAKE_API_KEY",  # `cryptoflow exchange serve`
        f"{ENV_PREFIX}FAKE_API_SECRET",
        f"{ENV_PREFIX}SHARED_DATA",  # tests and benchmarks
        f"{ENV_PREFIX}BENCH_VENV",
    }
)
"""``CRYPTOFLOW_*`` environment variables that are not settings; any other one that names no setting is
reported (a misspelt setting would otherwise do nothing)."""

# The parsed TOML file of the settings being loaded; set by load_settings() only.
_config_data: ContextVar[dict[str, Any] | None] = ContextVar("cryptoflow_config_data", default=None)


class _Section(BaseModel):
    """A settings section. An empty value (``CRYPTOFLOW_BINANCE__API_KEY=``, as docker compose passes an
    unset ``${VAR:-}``) of a setting that is unset by default means unset; an empty value of any other
    setting is refused, naming its default."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty(cls, value: Any, info: ValidationInfo) -> Any:
        if not (isinstance(value, str) and not value.strip()) or info.field_name is None:
            return value
        field = cls.model_fields[info.field_name]
        default = field.get_default(call_default_factory=True)
        if default is None:
            return None
        raise ValueError(f"must not be empty: give a value, or unset it to use the default {default}")


def _check_prefix(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("expected lowercase letters, digits, '.', '_' or '-' (e.g. 'cryptoflow')")
    return value


def _check_url(value: str | None, schemes: tuple[str, ...], example: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in schemes or not parts.hostname or port == -1:
        raise ValueError(f"expected a {'/'.join(schemes)} URL such as {example}; {value!r} is not")
    return value


def _check_file(value: Path | None) -> Path | None:
    if value is not None and not value.is_file():
        raise ValueError(f"CA file {str(value)!r} does not exist")
    return value


# A topic or index name prefix, and an optional CA file that must exist.
NamePrefix = Annotated[str, AfterValidator(_check_prefix)]
CaFile = Annotated[Path | None, AfterValidator(_check_file)]


class KafkaSettings(_Section):
    """How to reach Kafka and how topics are named and sized."""

    bootstrap_servers: str = Field("127.0.0.1:9092", description="host:port[,host:port...]")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: CaFile = Field(None, description="CA file for SSL/SASL_SSL")
    topic_prefix: NamePrefix = "cryptoflow"
    partitions: int = Field(3, ge=1, le=1000)
    replication_factor: int = Field(1, ge=1, le=10)
    connect_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="how long a command waits for Kafka to answer before it says so"
    )

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",") if part.strip()]
        if not servers:
            raise ValueError("expected host:port[,host:port...] (e.g. 127.0.0.1:9092)")
        for server in servers:
            match = _HOST_PORT.match(server)
            if not match or not 0 < int(match.group(2)) < 65536:
                raise ValueError(
                    f"expected host:port with a port 1-65535 (e.g. 127.0.0.1:9092); {server!r} is not"
                )
        return ",".join(servers)

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL"):
            missing = [
                name
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if getattr(self, name) in (None, "")
            ]
            if missing:
                raise ValueError(
                    f"security_protocol {self.security_protocol} needs "
                    + ", ".join(f"{ENV_PREFIX}KAFKA__{name.upper()}" for name in missing)
                )
        return self


class ElasticsearchSettings(_Section):
    """How to reach Elasticsearch (self-managed hosts or Elastic Cloud) and how indices are named."""

    hosts: str = Field("http://127.0.0.1:9200", description="URL[,URL...]")
    cloud_id: SecretStr | None = None
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: CaFile = None
    verify_certs: bool = True
    request_timeout_s: float = Field(30.0, gt=0, le=600)
    index_prefix: NamePrefix = "cryptoflow"

    @field_validator("hosts")
    @classmethod
    def _urls(cls, value: str) -> str:
        urls = [part.strip() for part in value.split(",") if part.strip()]
        if not urls:
            raise ValueError("expected URL[,URL...] (e.g. http://127.0.0.1:9200)")
        for url in urls:
            parts = urlsplit(url)
            try:
                port = parts.port
            except ValueError:
                port = -1
            if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
                raise ValueError(f"expected an http(s) URL such as http://127.0.0.1:9200; {url!r} is not")
        return ",".join(urls)

    @model_validator(mode="after")
    def _auth_complete(self) -> ElasticsearchSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError(
                f"basic auth needs both {ENV_PREFIX}ELASTICSEARCH__USERNAME and "
                f"{ENV_PREFIX}ELASTICSEARCH__PASSWORD"
            )
        return self

    @property
    def host_list(self) -> list[str]:
        """The configured URLs as a list."""
        return self.hosts.split(",")


Market = Literal["spot", "futures"]
"""A Binance market: spot or USD-M futures."""


class BinanceSettings(_Section):
    """Binance credentials and endpoints. Keys are only needed for the testnet and live brokers."""

    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    market: Market = "futures"
    base_url: str | None = Field(None, description="REST base URL override (fake exchange or testnet)")
    stream_url: str | None = Field(None, description="websocket base URL override")

    @field_validator("base_url")
    @classmethod
    def _rest(cls, value: str | None) -> str | None:
        return _check_url(
            value, ("http", "https"), "http://127.0.0.1:9010 or https://testnet.binancefuture.com"
        )

    @field_validator("stream_url")
    @classmethod
    def _stream(cls, value: str | None) -> str | None:
        return _check_url(value, ("ws", "wss"), "ws://127.0.0.1:9010/ or wss://fstream.binancefuture.com/")


class StackSettings(_Section):
    """The local single-node Kafka and Elasticsearch that ``cryptoflow stack up`` runs."""

    home: Path = Field(default_factory=lambda: Path.home() / ".cache" / "cryptoflow")
    kafka_version: str = "3.9.2"
    elasticsearch_version: str = "8.19.21"
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_secure_port: int = Field(9094, ge=1, le=65535, description="SASL_SSL listener (stack up --secure)")
    kafka_secure_user: str = Field("cryptoflow", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    elasticsearch_port: int = Field(9200, ge=1, le=65535)
    elasticsearch_transport_port: int = Field(9300, ge=1, le=65535)
    kafka_heap: str = Field("512m", pattern=r"^\d+[mMgG]$")
    elasticsearch_heap: str = Field("768m", pattern=r"^\d+[mMgG]$")
    maven_repository: str = "https://repo.maven.apache.org/maven2"
    elasticsearch_user: str = Field("cryptoflow-es", pattern=r"^[a-z_][a-z0-9_-]{0,30}$")
    start_timeout_s: float = Field(180.0, gt=0)

    @field_validator("home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


def _keep_days(value: Any) -> int | None:
    """``None``, ``""``, ``"forever"`` -> ``None`` (never delete); a whole number of days 1-36500."""
    if isinstance(value, str):
        value = value.strip()
        if value.lower() in ("", "forever", "none"):
            return None
        value = int(value) if value.isdigit() else 0
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 36_500:
        raise ValueError("expected a whole number of days from 1 to 36500, or 'forever' (never delete)")
    return value


Granularity = Literal["daily", "monthly"]
KeepDays = Annotated[int | None, BeforeValidator(_keep_days)]


class PartitionPolicy(NamedTuple):
    """How one kind is partitioned (``daily`` or ``monthly``) and kept (days, ``None`` = forever)."""

    partition: Granularity
    keep_days: int | None


class RetentionSettings(_Section):
    """Time-partitioned indices and how long each kind is kept (see ``cryptoflow retention``).

    ``<kind>_partition``: ``daily`` (indices ``<prefix>-<kind>-YYYY.MM.DD``) or ``monthly``
    (``<prefix>-<kind>-YYYY.MM``), by the event's own UTC time. ``<kind>_keep_days``: ``cryptoflow
    retention`` deletes the partitions that ended more than this many days ago; ``forever`` (the same as
    unset or empty) never deletes. Defaults: intrabar indicator updates (millions a day at 50 symbols) in
    daily partitions kept 14 days; candles, signals, trades, and the executors' locks and errors in monthly
    partitions kept forever.
    """

    candles_partition: Granularity = "monthly"
    candles_keep_days: KeepDays = None
    indicators_partition: Granularity = "daily"
    indicators_keep_days: KeepDays = 14
    signals_partition: Granularity = "monthly"
    signals_keep_days: KeepDays = None
    trades_partition: Granularity = "monthly"
    trades_keep_days: KeepDays = None
    locks_partition: Granularity = "monthly"
    locks_keep_days: KeepDays = None
    errors_partition: Granularity = "monthly"
    errors_keep_days: KeepDays = None

    def policy(self, kind: str) -> PartitionPolicy:
        """The policy of an index kind: ``candles``, ``indicators``, ``signals``, ``trades``, ``locks`` or
        ``errors``."""
        if f"{kind}_partition" not in type(self).model_fields:
            raise ValueError(f"unknown index kind {kind!r}")
        return PartitionPolicy(getattr(self, f"{kind}_partition"), getattr(self, f"{kind}_keep_days"))


NoticeKind = Literal["entry", "exit", "signal", "lock", "error"]
"""What ``cryptoflow notify`` posts: a position opened (``entry``) or closed (``exit``), a strategy's
``signal``, a protection ``lock`` that blocks entries, an executor's ``error``."""

NOTICE_KINDS: tuple[NoticeKind, ...] = get_args(NoticeKind)


class NotifyTarget(_Section):
    """One webhook ``cryptoflow notify`` posts to, and which notices it wants.

    ``format``: ``generic`` (one JSON object per notice to ``webhook_url``), ``slack`` (an incoming
    webhook, ``webhook_url``) or ``telegram`` (the Bot API's ``sendMessage`` for ``bot_token`` and
    ``chat_id``; ``api_url`` is the API's address, changed only for tests). ``webhook_url`` and
    ``bot_token`` are secrets (a Slack webhook URL and a Telegram token each let anyone post): they
    are masked everywhere and never printed. Filters: ``kinds`` (default: entries, exits, locks and
    errors; ``signal`` too if listed), ``sources`` and ``run_ids`` (empty: all). ``min_interval_s``:
    the least time between two posts (default 1 s for Slack, 3 s for Telegram, 0 for generic, their
    documented rates); notices that wait meanwhile go out together, one line each, in one message.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    format: Literal["generic", "slack", "telegram"] = "generic"
    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    chat_id: str | None = None
    api_url: str = "https://api.telegram.org"
    kinds: tuple[NoticeKind, ...] = ("entry", "exit", "lock", "error")
    sources: tuple[Source, ...] = ()
    run_ids: tuple[str, ...] = ()
    min_interval_s: float | None = Field(None, ge=0, le=3600)
    timeout_s: float = Field(10.0, gt=0, le=300)

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                _check_url(value.get_secret_value(), ("http", "https"), "https://hooks.slack.com/services/…")
            except ValueError:  # its message would show the URL, a secret
                raise ValueError(
                    "expected an http(s) URL such as https://hooks.slack.com/services/…"
                ) from None
        return value

    @field_validator("api_url")
    @classmethod
    def _api(cls, value: str) -> str:
        checked = _check_url(value, ("http", "https"), "https://api.telegram.org")
        return (checked or value).rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> NotifyTarget:
        if self.format == "telegram":
            missing = [name for name in ("bot_token", "chat_id") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"target {self.name!r}: telegram needs {' and '.join(missing)}")
        elif self.webhook_url is None:
            raise ValueError(f"target {self.name!r}: {self.format} needs webhook_url")
        return self

    @property
    def interval_s(self) -> float:
        """The least time between two posts, in seconds."""
        if self.min_interval_s is not None:
            return self.min_interval_s
        return {"generic": 0.0, "slack": 1.0, "telegram": 3.0}[self.format]


class NotifySettings(_Section):
    """Where ``cryptoflow notify`` posts (``CRYPTOFLOW_NOTIFY__TARGETS`` as a JSON list, or
    ``[[notify.targets]]`` tables in the TOML file; see :class:`NotifyTarget`)."""

    targets: list[NotifyTarget] = Field(default_factory=list)

    @field_validator("targets")
    @classmethod
    def _unique(cls, value: list[NotifyTarget]) -> list[NotifyTarget]:
        names = [target.name for target in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"target names must be unique; {', '.join(twice)} given twice")
        return value


class Settings(BaseSettings):
    """Everything cryptoflow can be told, validated once at start.

    Sources, highest priority first: keyword arguments, ``CRYPTOFLOW_*`` environment variables (``__``
    separates nested names, e.g. ``CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS``), a ``.env`` file in the working
    directory, a TOML config file (``--config``, ``CRYPTOFLOW_CONFIG`` or ``./cryptoflow.toml``), defaults.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    binance: BinanceSettings = Field(default_factory=BinanceSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, dotenv_settings]
        config_data = _config_data.get()
        if config_data:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=config_data))
        return tuple(sources)


def _find_config_file(explicit: Path | None) -> tuple[Path, str] | None:
    """The TOML file to read and where it was named."""
    if explicit is not None:
        path, origin = explicit, "given with --config"
    elif os.environ.get(f"{ENV_PREFIX}CONFIG"):
        path, origin = Path(os.environ[f"{ENV_PREFIX}CONFIG"]), f"from {ENV_PREFIX}CONFIG"
    else:
        local = Path("cryptoflow.toml")
        return (local, "found in the working directory") if local.is_file() else None
    if path.is_dir():
        raise ConfigurationError(
            f"config file {str(path)!r} ({origin}) is a directory; give the path of a TOML file"
        )
    if not path.exists():
        raise ConfigurationError(f"config file {str(path)!r} ({origin}) does not exist")
    return path, origin


def _suggest(name: str, candidates: list[str], shown: str = "{}") -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean {shown.format(close[0])}?" if close else ""


def _sections() -> dict[str, type[BaseModel]]:
    """``{section name: its model}`` for the settings that are sections (``kafka``, ``stack`` ...)."""
    return {
        name: field.annotation
        for name, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


def read_toml(path: Path, where: str) -> dict[str, Any]:
    """The parsed TOML file; a file that cannot be read, is not UTF-8 or is not valid TOML is a
    :class:`ConfigurationError` starting with ``where`` (e.g. ``config file 'x.toml'``)."""
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigurationError(f"{where} cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{where} is not valid TOML: {exc}; fix the file") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{where} is not UTF-8 text; is it a TOML file?") from None


def _read_config_file(path: Path, origin: str) -> dict[str, Any]:
    """The parsed TOML file; an unreadable or malformed file, an unknown section or an unknown setting
    in a section is a :class:`ConfigurationError` naming the file (and a close known name)."""
    where = f"config file {str(path)!r} ({origin})"
    data = read_toml(path, where)
    sections = _sections()
    top = [name for name in Settings.model_fields if name not in sections]
    problems = []
    for key, value in data.items():
        if key in sections:
            if not isinstance(value, dict):
                continue  # pydantic says what is wrong with the value
            known = list(sections[key].model_fields)
            problems += [
                f"[{key}] {inner}: unknown setting"
                + (_suggest(inner, known) or f" (known: {', '.join(known)})")
                for inner in value
                if inner not in known
            ]
        elif key not in top:
            if isinstance(value, dict):
                hint = _suggest(key, list(sections), "[{}]") or f" (known: {', '.join(sections)})"
                problems.append(f"[{key}]: unknown section{hint}")
            else:
                known = top + list(sections)
                problems.append(
                    f"{key}: unknown setting{_suggest(key, known) or ' (known: ' + ', '.join(known) + ')'}"
                )
    if problems:
        raise ConfigurationError(f"{where}:\n  " + "\n  ".join(problems))
    return data


def _known_variables() -> list[str]:
    names = [ENV_PREFIX + name.upper() for name in Settings.model_fields]
    for section, model in _sections().items():
        names += [f"{ENV_PREFIX}{section.upper()}__{name.upper()}" for name in model.model_fields]
    return names


_warned: set[str] = set()


def _warn_unknown_variables() -> None:
    """Log a warning (once per process) for each ``CRYPTOFLOW_*`` variable of the environment or
    ``.env`` that names no setting: pydantic-settings ignores it, so a misspelt setting does nothing.
    (A misspelt setting *inside* a known section, ``CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVER``, is an error.)"""
    names = {name.upper(): "environment" for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    if Path(".env").is_file():
        from dotenv import dotenv_values

        for name in dotenv_values(".env"):
            if name.upper().startswith(ENV_PREFIX):
                names.setdefault(name.upper(), ".env")
    known = _known_variables()
    sections = tuple(f"{ENV_PREFIX}{section.upper()}__" for section in _sections())
    for name, origin in sorted(names.items()):
        if name in known or name in OTHER_VARIABLES or name.startswith(sections) or name in _warned:
            continue
        _warned.add(name)
        log.warning(
            "%s (%s) is not a cryptoflow setting and is ignored%s",
            name,
            origin,
            _suggest(name, known) or " (see `cryptoflow config show` for the settings)",
        )


def _setting_name(loc: tuple[Any, ...]) -> str:
    fields = [str(part) for part in loc if isinstance(part, str)]
    return ENV_PREFIX + "__".join(name.upper() for name in fields) if fields else "settings"


def _is_secret(loc: tuple[Any, ...]) -> bool:
    return any(
        isinstance(part, str)
        and any(word in part for word in ("password", "secret", "key", "cloud_id", "token", "webhook"))
        for part in loc
    )


def _describe(error: ErrorDetails) -> str:
    loc = tuple(error.get("loc", ()))
    name = _setting_name(loc)
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"{name}: missing, set it in the environment, .env or the config file"
    if error.get("type") == "extra_forbidden":
        return f"{name}: unknown setting{_suggest(name, _known_variables())}"
    if _is_secret(loc):
        return f"{name}: {message} (got ***)" if not isinstance(error.get("input"), dict) else f"{name}: ***"
    message = mask_credentials(message)
    if isinstance(error.get("input"), dict):
        return f"{name}: {message}"
    return f"{name}: {message} (got {mask_credentials(repr(error.get('input')))})"


def _register_secrets(settings: Settings) -> None:
    """Hand every secret value to the masking of logs and messages."""
    for section in _sections():
        model = getattr(settings, section)
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                register_secret(value.get_secret_value())
    for url in settings.elasticsearch.host_list:
        register_secret(urlsplit(url).password)
    for target in settings.notify.targets:
        for secret in (target.webhook_url, target.bot_token):
            register_secret(secret.get_secret_value() if secret is not None else None)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read, validate and return the effective settings.

    Raises :class:`~cryptoflow.errors.ConfigurationError` naming every wrong setting, its value (secrets
    masked) and what is expected, and naming the config file when that is what is wrong (malformed TOML,
    an unknown section or setting, with the closest known name). ``CRYPTOFLOW_*`` variables that name no
    setting are logged as warnings.
    """
    found = _find_config_file(config_file)
    token = _config_data.set(_read_config_file(*found) if found else None)
    try:
        _warn_unknown_variables()
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors(include_url=False)]
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(lines)) from None
    except ValueError as exc:  # a source failed to parse (e.g. JSON in a variable)
        raise ConfigurationError(f"could not read settings: {mask_credentials(str(exc))}") from None
    finally:
        _config_data.reset(token)
    _register_secrets(settings)
    return settings


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, every secret replaced by ``'***'`` and the credentials inside URLs
    masked (``http://elastic:***@host:9200``); an unset setting is ``None``."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "***"
        if isinstance(value, BaseModel):
            return {name: walk(getattr(value, name)) for name in type(value).model_fields}
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        if isinstance(value, str):
            return mask_credentials(value)
        return value

    return walk(settings)
