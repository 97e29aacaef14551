"""Settings: one class, read from `GERBANG_*` environment variables and `.env`."""

from __future__ import annotations

import enum
import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gerbang.kit.netaccess import AllowList, InvalidNetwork

# Known-insecure values: allowed in development and tests only.
DEVELOPMENT_SECRET_KEY = "gerbang-development-secret-key-not-for-production"  # noqa: S105
_MIN_SECRET_KEY_LENGTH = 32


def _plain_seconds(value: object) -> object:
    """Environment variables say `10` for ten seconds; pydantic alone wants `PT10S`."""
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_plain_seconds)]


def _empty_as_unset(value: object) -> object:
    """`GERBANG_X=` (set but empty) means unset, as it does to a shell script."""
    return None if isinstance(value, str) and not value.strip() else value


_TELEGRAM_TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,100}")


class Environment(enum.StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ConfigurationError(Exception):
    """Settings that must stop the process at start-up, with a message naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GERBANG_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: Environment = Environment.development
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("var")

    database_url: SecretStr | None = None
    """PostgreSQL URL. Unset: an embedded server is started under `embedded_pg_dir`."""
    embedded_pg_dir: Path | None = None
    """Data directory of the embedded server; default `<data_dir>/pg`."""
    database_pool_size: int = Field(default=30, ge=1)
    """Connections per process; PostgreSQL's max_connections must cover every process's pool."""
    database_acquire_timeout: Duration = timedelta(seconds=10)
    database_statement_timeout: Duration = timedelta(seconds=30)

    secret_key: SecretStr | None = None
    """Root secret for encryption at rest and token signing. Required outside development."""
    previous_secret_keys: SecretStr | None = None
    """Comma-separated earlier secret keys: still decrypt, never encrypt (key rotation)."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    access_log: bool = True

    trusted_proxies: str = ""
    """Comma-separated IPs or CIDR ranges of our reverse proxies: only from them is `X-Forwarded-For` read."""
    rate_limit_per_ip: int = Field(default=1200, ge=0)
    """Requests per minute from one client address to `/api/v1` (0: off)."""
    rate_limit_per_api_key: int = Field(default=3000, ge=0)
    """Requests per minute with one API key (0: off)."""
    rate_limit_login_per_ip: int = Field(default=20, ge=0)
    """Login attempts per minute from one client address (0: off)."""
    allow_list_refresh: Duration = timedelta(seconds=30)
    """How often allow-lists are re-read even without a change notification."""
    request_log_retention: Duration = timedelta(days=30)
    """How long partner API request log rows are kept."""

    public_url: str | None = None
    """The address partners and customers reach us at (checkout links, provider callbacks). Default
    `http://<host>:<port>`."""
    sandbox: bool | None = None
    """Mount the sandbox provider at `/sandbox`. Default: on outside production; refused in production."""
    withdrawal_min_amount: int = Field(default=10_000, ge=1)
    """The smallest withdrawal in rupiah (gross); a partner's own setting overrides it."""
    withdrawal_max_amount: int = Field(default=500_000_000, ge=1)
    """The largest withdrawal in rupiah (gross); a partner's own setting overrides it."""
    withdrawal_resubmit_after: Duration = timedelta(seconds=30)
    """A withdrawal the provider has not accepted (down, or we crashed) is resubmitted after this."""
    withdrawal_poll_after: Duration = timedelta(minutes=5)
    """A PROCESSING withdrawal with no callback for this long is asked about."""
    payin_poll_after: Duration = timedelta(minutes=2)
    """A PENDING pay-in with no word from its provider for this long is asked about by the worker (then again
    after as long), so a lost callback neither waits for someone to read the order nor lets it expire unpaid."""
    webhook_concurrency: int = Field(default=64, ge=1, le=1000)
    """Webhook attempts a worker keeps in flight at once."""
    webhook_timeout: Duration = timedelta(seconds=10)
    """How long a partner's endpoint has to answer a webhook."""
    webhook_lease: Duration = timedelta(seconds=60)
    """How long a claimed webhook attempt is a worker's: after a crash, its events go again once it runs out.
    Must exceed `GERBANG_WEBHOOK_TIMEOUT`."""
    telegram_bot_token: Annotated[SecretStr | None, BeforeValidator(_empty_as_unset)] = None
    """The bot that sends alerts to Telegram; with `telegram_chat_id`. Unset: alerts are only listed."""
    telegram_chat_id: Annotated[str | None, BeforeValidator(_empty_as_unset)] = Field(
        default=None, pattern=r"^(-?\d{1,20}|@\w{5,64})$"
    )
    """Where alerts go: a chat id (`-1001234567890` for a group or channel) or a public `@channelname`."""
    telegram_base_url: str = Field(default="https://api.telegram.org", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """The Bot API server (tests point it at a local fake; a self-hosted Bot API server works too)."""
    telegram_timeout: Duration = timedelta(seconds=10)
    """How long Telegram has to answer one message."""
    telegram_min_severity: Literal["info", "warning", "critical"] = "info"
    """Alerts below this severity are not sent (they are still listed)."""
    telegram_max_attempts: int = Field(default=20, ge=1, le=100)
    """Tries per alert before it is given up (kept as `failed` with its last error); 20 is about 6 hours."""
    telegram_max_age: Duration = timedelta(hours=24)
    """An alert not delivered this long after it was raised is given up: old news is not worth a flood."""
    kafka_bootstrap_servers: str = ""
    """Comma-separated `host:port` of the Kafka cluster the worker relays outbox events to; empty: no relay
    (events stay in the outbox, listed at `GET /api/v1/admin/events`)."""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Annotated[
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None, BeforeValidator(_empty_as_unset)
    ] = None
    """Required with a SASL protocol, with the username and password."""
    kafka_sasl_username: Annotated[str | None, BeforeValidator(_empty_as_unset)] = None
    kafka_sasl_password: Annotated[SecretStr | None, BeforeValidator(_empty_as_unset)] = None
    kafka_ssl_ca_location: Annotated[Path | None, BeforeValidator(_empty_as_unset)] = None
    """PEM file of the CA that signed the brokers' certificates (SSL, SASL_SSL); default: the system's."""
    kafka_client_id: str = Field(default="gerbang", min_length=1, max_length=64)
    kafka_batch_size: int = Field(default=1000, ge=1, le=10_000)
    """Outbox rows the relay reads, sends and marks published at a time."""
    kafka_linger: Duration = timedelta(milliseconds=5)
    """How long the producer waits to fill a request to a partition (`linger.ms`)."""
    kafka_delivery_timeout: Duration = timedelta(seconds=30)
    """How long the producer keeps trying one message (`message.timeout.ms`) before the relay starts over
    with a new producer, from the oldest unpublished row."""
    kafka_create_topics: bool = True
    """The relay creates the event topics it is about to publish to if they do not exist."""
    kafka_topic_partitions: int = Field(default=6, ge=1, le=1000)
    kafka_topic_replication: Annotated[int | None, BeforeValidator(_empty_as_unset)] = Field(default=None, ge=1, le=32)
    """Replicas of a topic the relay creates; unset: the cluster's `default.replication.factor`."""
    events_retention: Duration = timedelta(days=7)
    """Published outbox rows older than this are deleted by the `events.purge_published` job; unpublished
    rows are never deleted."""
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    """Where `gerbang worker` serves its Prometheus metrics (webhook deliveries, queue); 0: not served."""
    hilogate_base_url: str = Field(default="https://app.hilogate.com", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """Hilogate's API, for a Hilogate provider account created without a base URL of its own."""
    hilogate_timeout: Duration = timedelta(seconds=15)
    """How long Hilogate has to answer one request."""
    hilogate_callback_ips: str = ""
    """Comma-separated addresses or CIDR ranges Hilogate calls back from; empty: any (callbacks are signed)."""
    oy_base_url: str = Field(default="https://partner.oyindonesia.com", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """Oy!'s API, for an Oy! provider account created without a base URL of its own."""
    oy_timeout: Duration = timedelta(seconds=15)
    """How long Oy! has to answer one request."""
    oy_callback_ips: str = ""
    """Comma-separated addresses or CIDR ranges Oy! calls back from; empty: any. Oy!'s callbacks are not
    signed, so they are only ever a prompt to ask Oy! itself; this is a further filter."""
    ing1_base_url: str = Field(default="https://api.ing1.co.id", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """ING1's (Billers Engine) API without the version segment, for an ING1 provider account created without a
    base URL of its own (the real host is per contract: set it; the default is a placeholder)."""
    ing1_timeout: Duration = timedelta(seconds=15)
    """How long ING1 has to answer one request."""
    ing1_callback_ips: str = ""
    """Comma-separated addresses or CIDR ranges ING1 calls back from; empty: any. ING1's GET callbacks are not
    signed, so they are only ever a prompt to ask ING1 itself; this is a further filter."""
    netzme_base_url: str = Field(
        default="https://tokoapisnap.netzme.com/api", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
    )
    """Netzme's SNAP API up to (without) the `/v1.0/...` segment, for a Netzme provider account created without a
    base URL of its own (the original's `NETZ_URL`; this default is Netzme's staging host without `-stg`)."""
    netzme_timeout: Duration = timedelta(seconds=15)
    """How long Netzme has to answer one request."""
    netzme_callback_ips: str = ""
    """Comma-separated addresses or CIDR ranges Netzme notifies from; empty: any (notifies are RSA-signed)."""
    piro_base_url: str = Field(default="https://api.piro.co.id", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """Piro's API (a placeholder: the host is per contract), for a Piro provider account created without a base
    URL of its own."""
    piro_timeout: Duration = timedelta(seconds=15)
    """How long Piro has to answer one request."""
    piro_callback_ips: str = ""
    """Comma-separated addresses or CIDR ranges Piro calls back from; empty: any (callbacks are signed)."""
    genesis_base_url: str = Field(default="https://api.genesis.co.id", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """Genesis's QRIS SNAP API (a placeholder: the host is per contract), for a Genesis provider account created
    without a base URL of its own."""
    genesis_timeout: Duration = timedelta(seconds=15)
    """How long Genesis has to answer one request."""
    genesis_callback_ips: str = ""
    """Comma-separated addresses or CIDR ranges Genesis calls back from; empty: any (callbacks are signed, and
    confirmed by a query)."""
    gidi_base_url: str = Field(default="https://api.gidi.co.id", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """Gidi's API (the original's `GIDI_URL`), for a Gidi provider account created without a base URL of its own
    (the real host is per contract: set it; the default is a placeholder)."""
    gidi_timeout: Duration = timedelta(seconds=15)
    """How long Gidi has to answer one request."""
    gidi_callback_ips: str = ""
    """Comma-separated addresses or CIDR ranges Gidi calls back from; empty: any (callbacks are signed)."""
    gudangvoucher_base_url: str = Field(
        default="https://www.gudangvoucher.com", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
    )
    """GudangVoucher's host, for a GudangVoucher provider account created without a base URL of its own (the
    original's `GV_QRIS_URL` is this host + `/payment_channel/gv_connect/qris/create_qr`)."""
    gudangvoucher_timeout: Duration = timedelta(seconds=15)
    """How long GudangVoucher has to answer one request."""
    gudangvoucher_callback_ips: str = ""
    """Comma-separated addresses or CIDR ranges GudangVoucher calls back from; empty: any. Its callbacks are
    not documented as signed, so they are only ever a prompt to ask GudangVoucher itself; this is a further
    filter."""
    demo_provider: Literal[
        "sandbox", "hilogate", "oy", "ing1", "gudangvoucher", "gidi", "piro", "genesis", "netzme"
    ] = "sandbox"
    """The provider whose fake the demo's provider account uses (`gerbang run --provider`)."""
    demo_data: bool = True
    """`gerbang run` in development seeds a demo admin, partner and sandbox provider account on first start."""

    shutdown_grace: Duration = timedelta(seconds=8)
    """How long in-flight requests and jobs get to finish after SIGTERM."""
    worker_heartbeat_interval: Duration = timedelta(seconds=10)
    scheduler_poll_interval: Duration = timedelta(seconds=5)
    """How often a worker's scheduler looks for due cron slots and queued runs; a manual run wakes it at once."""
    scheduler_stale_run_after: Duration = timedelta(seconds=60)
    """A running job whose heartbeat (written every quarter of this) is older, and whose lock no session
    holds, was left by a dead worker: it is marked failed `interrupted`."""

    @model_validator(mode="after")
    def _check_scheduler(self) -> Settings:
        for name in ("scheduler_poll_interval", "scheduler_stale_run_after"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"GERBANG_{name.upper()} must be more than 0 seconds")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is not Environment.production:
            return self
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if not secret:
            raise ValueError("GERBANG_SECRET_KEY is not set; production refuses to start without it")
        if secret == DEVELOPMENT_SECRET_KEY or len(secret) < _MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"GERBANG_SECRET_KEY is a development value or shorter than {_MIN_SECRET_KEY_LENGTH} characters"
            )
        if self.database_url is None:
            raise ValueError("GERBANG_DATABASE_URL is not set; production does not run an embedded PostgreSQL")
        if self.sandbox:
            raise ValueError("GERBANG_SANDBOX cannot be on in production: it fakes payments")
        return self

    @model_validator(mode="after")
    def _check_trusted_proxies(self) -> Settings:
        try:
            AllowList.parse(self.trusted_proxy_entries)
        except InvalidNetwork as error:
            raise ValueError(f"GERBANG_TRUSTED_PROXIES: {error}") from None
        return self

    @model_validator(mode="after")
    def _check_webhook_lease(self) -> Settings:
        if self.webhook_lease <= self.webhook_timeout:
            raise ValueError("GERBANG_WEBHOOK_LEASE must be longer than GERBANG_WEBHOOK_TIMEOUT")
        return self

    @model_validator(mode="after")
    def _check_kafka(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_"):
            missing = [
                f"GERBANG_KAFKA_SASL_{name.upper()}"
                for name in ("mechanism", "username", "password")
                if getattr(self, f"kafka_sasl_{name}") is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} not set: {self.kafka_security_protocol} needs them")
        if self.kafka_linger < timedelta(0):
            raise ValueError("GERBANG_KAFKA_LINGER cannot be negative")
        for name in ("kafka_delivery_timeout", "events_retention"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"GERBANG_{name.upper()} must be more than 0 seconds")
        return self

    @model_validator(mode="after")
    def _check_telegram(self) -> Settings:
        if (self.telegram_bot_token is None) != (self.telegram_chat_id is None):
            missing = "GERBANG_TELEGRAM_CHAT_ID" if self.telegram_chat_id is None else "GERBANG_TELEGRAM_BOT_TOKEN"
            raise ValueError(f"{missing} is not set: Telegram alerts need both the bot token and the chat id")
        token = self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None
        if token is not None and not _TELEGRAM_TOKEN.fullmatch(token):
            # Checked because it goes into a URL path; the message never repeats it.
            raise ValueError("GERBANG_TELEGRAM_BOT_TOKEN does not look like a bot token (`digits:letters`)")
        if self.env is Environment.production and not self.telegram_base_url.startswith("https://"):
            raise ValueError("GERBANG_TELEGRAM_BASE_URL must be https in production: the bot token is in its path")
        return self

    @property
    def kafka_enabled(self) -> bool:
        return bool(self.kafka_bootstrap_servers.strip())

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None and self.telegram_chat_id is not None

    @property
    def trusted_proxy_entries(self) -> list[str]:
        return [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]

    @property
    def pg_dir(self) -> Path:
        return self.embedded_pg_dir or self.data_dir / "pg"

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def provider_base_url(self, provider: str) -> str | None:
        """`GERBANG_<PROVIDER>_BASE_URL`, the default for that provider's accounts (None: no default)."""
        value = getattr(self, f"{provider}_base_url", None)
        return value if isinstance(value, str) else None

    def provider_timeout(self, provider: str) -> timedelta | None:
        value = getattr(self, f"{provider}_timeout", None)
        return value if isinstance(value, timedelta) else None

    def provider_callback_ips(self, provider: str) -> list[str]:
        """`GERBANG_<PROVIDER>_CALLBACK_IPS` as entries (empty: no check)."""
        value = getattr(self, f"{provider}_callback_ips", "")
        return [entry.strip() for entry in value.split(",") if entry.strip()] if isinstance(value, str) else []

    @property
    def sandbox_enabled(self) -> bool:
        return self.sandbox if self.sandbox is not None else self.env is not Environment.production

    @property
    def webhooks_require_https(self) -> bool:
        """Plain http webhook URLs are for local development only."""
        return self.env is not Environment.development

    @property
    def secret_key_value(self) -> str:
        return self.secret_key.get_secret_value() if self.secret_key else DEVELOPMENT_SECRET_KEY

    @property
    def secret_keys(self) -> list[str]:
        """The current secret key first, then the previous ones (for a `KeyRing`)."""
        previous = self.previous_secret_keys.get_secret_value() if self.previous_secret_keys else ""
        return [self.secret_key_value, *(key.strip() for key in previous.split(",") if key.strip())]


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one `ConfigurationError` naming the variables."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"GERBANG_{field.upper()}: {message}" if field else message)
        raise ConfigurationError("; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
