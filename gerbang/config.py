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
    webhook_concurrency: int = Field(default=64, ge=1, le=1000)
    """Webhook attempts a worker keeps in flight at once."""
    webhook_timeout: Duration = timedelta(seconds=10)
    """How long a partner's endpoint has to answer a webhook."""
    webhook_lease: Duration = timedelta(seconds=60)
    """How long a claimed webhook attempt is a worker's: after a crash, its events go again once it runs out.
    Must exceed `GERBANG_WEBHOOK_TIMEOUT`."""
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    """Where `gerbang worker` serves its Prometheus metrics (webhook deliveries, queue); 0: not served."""
    demo_data: bool = True
    """`gerbang run` in development seeds a demo admin, partner and sandbox provider account on first start."""

    shutdown_grace: Duration = timedelta(seconds=8)
    """How long in-flight requests and jobs get to finish after SIGTERM."""
    worker_heartbeat_interval: Duration = timedelta(seconds=10)

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

    @property
    def trusted_proxy_entries(self) -> list[str]:
        return [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]

    @property
    def pg_dir(self) -> Path:
        return self.embedded_pg_dir or self.data_dir / "pg"

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

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
