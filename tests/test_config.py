from __future__ import annotations

import subprocess

import pytest
from pydantic import SecretStr

from gerbang.config import DEVELOPMENT_SECRET_KEY, ConfigurationError, Environment, Settings, load_settings
from tests.helpers import GERBANG, clean_env

STRONG = "p" * 40
DB = "postgresql://gerbang@db.internal/gerbang"


def _production(**overrides: object) -> Settings:
    values: dict[str, object] = {"_env_file": None, "env": Environment.production, "database_url": DB}
    return load_settings(**(values | overrides))


def test_production_requires_a_secret_key() -> None:
    with pytest.raises(ConfigurationError, match="GERBANG_SECRET_KEY is not set"):
        _production()


@pytest.mark.parametrize("secret", [DEVELOPMENT_SECRET_KEY, "short"])
def test_production_refuses_development_or_weak_secret(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="GERBANG_SECRET_KEY is a development value"):
        _production(secret_key=secret)


def test_production_requires_an_external_database() -> None:
    with pytest.raises(ConfigurationError, match="GERBANG_DATABASE_URL is not set"):
        _production(secret_key=STRONG, database_url=None)


def test_production_with_real_values_loads() -> None:
    settings = _production(secret_key=STRONG)
    assert settings.secret_key_value == STRONG


def test_development_falls_back_to_the_development_secret() -> None:
    settings = load_settings(_env_file=None, env=Environment.development)
    assert settings.secret_key_value == DEVELOPMENT_SECRET_KEY


def test_field_errors_name_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^GERBANG_PORT: "):
        load_settings(_env_file=None, port="eighty")


def test_environment_variables_and_dotenv_are_read(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"  # type: ignore[operator]
    env_file.write_text("GERBANG_PORT=9001\nGERBANG_LOG_LEVEL=WARNING\n")
    monkeypatch.setenv("GERBANG_HOST", "0.0.0.0")
    settings = load_settings(_env_file=env_file)
    assert (settings.host, settings.port, settings.log_level) == ("0.0.0.0", 9001, "WARNING")


def test_secrets_are_not_shown_in_repr() -> None:
    settings = _production(secret_key=STRONG, database_url="postgresql://u:hunter2-password@db/gerbang")
    assert STRONG not in repr(settings)
    assert "hunter2" not in repr(settings)
    assert isinstance(settings.database_url, SecretStr)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GERBANG_ENV": "production"}, "gerbang: GERBANG_SECRET_KEY is not set; production refuses to start"),
        ({"GERBANG_PORT": "not-a-port"}, "gerbang: GERBANG_PORT: Input should be a valid integer"),
        ({"GERBANG_ENV": "staging"}, "gerbang: GERBANG_ENV: Input should be"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "run", "worker", "migrate"])
def test_bad_configuration_exits_with_one_line(
    env: dict[str, str], expected: str, command: str, tmp_path: object
) -> None:
    result = subprocess.run(
        [*GERBANG, command], env=clean_env(**env), cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("raw", "seconds"), [("10", 10.0), ("2.5", 2.5), ("PT3S", 3.0)])
def test_durations_accept_plain_seconds_and_iso(monkeypatch: pytest.MonkeyPatch, raw: str, seconds: float) -> None:
    monkeypatch.setenv("GERBANG_SHUTDOWN_GRACE", raw)
    assert load_settings(_env_file=None).shutdown_grace.total_seconds() == seconds
