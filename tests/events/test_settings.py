"""Kafka settings: SASL/TLS reach the clients, the password never shows, and incomplete SASL stops the start."""

from __future__ import annotations

import pytest

from gerbang.config import ConfigurationError, load_settings
from gerbang.events.kafka import client_config, producer_config

PASSWORD = "kafka-password-not-to-be-seen"


def test_sasl_and_tls_settings_reach_the_producer_and_the_password_stays_hidden() -> None:
    settings = load_settings(
        _env_file=None, kafka_bootstrap_servers="k1:9093,k2:9093", kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="gerbang", kafka_sasl_password=PASSWORD,
        kafka_ssl_ca_location="/etc/ssl/kafka-ca.pem", kafka_linger="0.02", kafka_delivery_timeout="45",
    )  # fmt: skip
    config = producer_config(settings)
    assert {k: v for k, v in config.items() if k != "logger"} == {
        "bootstrap.servers": "k1:9093,k2:9093", "client.id": "gerbang", "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "gerbang", "sasl.password": PASSWORD,
        "ssl.ca.location": "/etc/ssl/kafka-ca.pem", "enable.idempotence": True, "acks": "all",
        "max.in.flight.requests.per.connection": 5, "linger.ms": 20.0, "message.timeout.ms": 45_000,
        "allow.auto.create.topics": False,
    }  # fmt: skip
    assert PASSWORD not in repr(settings) + str(settings.model_dump())
    plain = client_config(load_settings(_env_file=None, kafka_bootstrap_servers="k:9092"))
    assert not any(key.startswith(("sasl.", "ssl.")) for key in plain)


def test_a_sasl_protocol_without_its_credentials_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="GERBANG_KAFKA_SASL_USERNAME, GERBANG_KAFKA_SASL_PASSWORD"):
        load_settings(_env_file=None, kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="PLAIN")
    assert not load_settings(_env_file=None, kafka_bootstrap_servers=" ").kafka_enabled
