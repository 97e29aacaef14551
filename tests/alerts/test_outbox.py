"""Writing an alert: one row in the caller's transaction, with its kind's severity unless told otherwise; and
the settings that turn Telegram delivery on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr

from gerbang.config import ConfigurationError, Environment, Settings, load_settings
from gerbang.db import Database
from gerbang.events.alerts import DEFAULT_SEVERITY, Severity, default_severity, raise_alert
from gerbang.kit.time import utcnow
from tests.alerts.conftest import BOT_TOKEN, CHAT_ID, row


async def test_an_alert_is_one_pending_row_with_its_kinds_severity(database: Database) -> None:
    now = utcnow()
    async with database.transaction() as connection:
        failed = await raise_alert(connection, kind="job_failed", partner_id=None, message="m", now=now)
        unknown = await raise_alert(connection, kind="something_new", partner_id=None, message="m", now=now)
        chosen = await raise_alert(
            connection, kind="job_failed", partner_id=None, message="m", now=now, severity=Severity.info
        )
    stored = await row(database, failed)
    assert (stored["severity"], stored["status"], stored["attempts"], stored["parts_sent"]) == (
        "critical", "pending", 0, 0)  # fmt: skip
    assert stored["created_at"] == stored["next_attempt_at"] == now
    assert (await row(database, unknown))["severity"] == "warning"
    assert (await row(database, chosen))["severity"] == "info"


def test_the_kinds_the_code_raises_have_a_severity() -> None:
    assert default_severity("settlement_summary") is Severity.info
    assert default_severity("dashboard_summary") is Severity.info
    assert default_severity("job_failed") is Severity.critical
    for kind in ("webhook_endpoint_disabled", "withdrawal_contradicted", "withdrawal_completed_after_failure"):
        assert DEFAULT_SEVERITY[kind] is Severity.warning
    assert Severity.info.rank < Severity.warning.rank < Severity.critical.rank


def _settings(**values: object) -> Settings:
    return load_settings(_env_file=None, env=Environment.test, **values)


def test_telegram_is_on_with_a_token_and_a_chat_id_only() -> None:
    assert _settings().telegram_enabled is False
    on = _settings(telegram_bot_token=BOT_TOKEN, telegram_chat_id=CHAT_ID)
    assert on.telegram_enabled is True
    assert isinstance(on.telegram_bot_token, SecretStr)
    assert BOT_TOKEN not in repr(on)
    assert (on.telegram_base_url, on.telegram_timeout, on.telegram_min_severity) == (
        "https://api.telegram.org", timedelta(seconds=10), "info")  # fmt: skip
    assert _settings(telegram_bot_token="", telegram_chat_id="").telegram_enabled is False  # set but empty
    assert _settings(telegram_bot_token=BOT_TOKEN, telegram_chat_id="@gerbang_ops").telegram_enabled is True


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"telegram_bot_token": BOT_TOKEN}, "GERBANG_TELEGRAM_CHAT_ID is not set"),
        ({"telegram_chat_id": CHAT_ID}, "GERBANG_TELEGRAM_BOT_TOKEN is not set"),
        ({"telegram_bot_token": "not a token/../x", "telegram_chat_id": CHAT_ID}, "does not look like a bot token"),
        ({"telegram_chat_id": "general chat"}, "GERBANG_TELEGRAM_CHAT_ID"),
        ({"telegram_base_url": "ftp://telegram"}, "GERBANG_TELEGRAM_BASE_URL"),
        ({"telegram_min_severity": "loud"}, "GERBANG_TELEGRAM_MIN_SEVERITY"),
    ],
)
def test_bad_telegram_settings_stop_the_process(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        _settings(**values)
    assert BOT_TOKEN not in str(refused.value)


def test_production_sends_the_token_over_https_only() -> None:
    production = {
        "env": Environment.production, "secret_key": "p" * 40, "database_url": "postgresql://db/gerbang",
        "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": CHAT_ID,
    }  # fmt: skip
    with pytest.raises(ConfigurationError, match="must be https in production"):
        load_settings(_env_file=None, telegram_base_url="http://telegram.internal", **production)
    assert load_settings(_env_file=None, **production).telegram_enabled
