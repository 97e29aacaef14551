from __future__ import annotations

from pathlib import Path

from gerbang.config import Settings, load_settings
from gerbang.kit.log import configure_logging


def load_cli_settings(**overrides: object) -> Settings:
    """Settings for a command (options given on the command line win), with logging configured."""
    settings = load_settings(**{key: value for key, value in overrides.items() if value is not None})
    configure_logging(settings.log_level, settings.log_format)
    return settings


SEEDED_SETTING = "demo.seeded"
"""The platform setting that says the demo data is there (`gerbang run` seeds it once)."""
CURRENT_PROVIDER_SETTING = "demo.current_provider"
"""The provider whose fake the demo's routing prefers (the last `gerbang run --provider`)."""


def credentials_file(settings: Settings) -> Path:
    """Where `gerbang run` keeps the demo's logins and keys (0600), after showing them once."""
    return settings.data_dir / "demo-credentials.json"
