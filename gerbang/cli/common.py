from __future__ import annotations

from gerbang.config import Settings, load_settings
from gerbang.kit.log import configure_logging


def load_cli_settings(**overrides: object) -> Settings:
    """Settings for a command (options given on the command line win), with logging configured."""
    settings = load_settings(**{key: value for key, value in overrides.items() if value is not None})
    configure_logging(settings.log_level, settings.log_format)
    return settings
