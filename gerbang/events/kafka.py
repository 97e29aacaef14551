"""Kafka clients for the relay, configured from settings: the idempotent producer and topic creation.

confluent-kafka (librdkafka) rather than aiokafka: measured here, aiokafka's idempotent producer fails on
InitProducerId against the test broker. librdkafka is synchronous C with its own threads; the relay calls
`produce()` (it only queues) on the event loop and serves delivery reports on a thread of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from gerbang.config import Settings

# librdkafka's own log lines (connection failures, ...) go through the stdlib bridge to our log format.
_LIBRDKAFKA_LOG = logging.getLogger("gerbang.kafka")


@dataclass(frozen=True)
class TopicPolicy:
    create: bool
    partitions: int
    replication: int | None
    """None: the cluster's `default.replication.factor`."""


def client_config(settings: Settings) -> dict[str, Any]:
    """What every client needs to reach the cluster. Holds the SASL password: never log it."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": settings.kafka_client_id,
        "security.protocol": settings.kafka_security_protocol,
        "logger": _LIBRDKAFKA_LOG,
    }
    if settings.kafka_sasl_mechanism is not None:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username is not None:
        config["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        config["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_ca_location is not None:
        config["ssl.ca.location"] = str(settings.kafka_ssl_ca_location)
    return config


def producer_config(settings: Settings) -> dict[str, Any]:
    return client_config(settings) | {
        # Idempotence: retries never duplicate or reorder a partition's messages; it implies acks=all and at
        # most 5 requests in flight per partition, set here anyway so the guarantee reads from the code.
        "enable.idempotence": True,
        "acks": "all",
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": settings.kafka_linger.total_seconds() * 1000,
        "message.timeout.ms": int(settings.kafka_delivery_timeout.total_seconds() * 1000),
        # A topic appears because we created it with our partition count, never as a broker default.
        "allow.auto.create.topics": False,
    }


def topic_policy(settings: Settings) -> TopicPolicy:
    return TopicPolicy(settings.kafka_create_topics, settings.kafka_topic_partitions, settings.kafka_topic_replication)


class TopicsNotCreated(Exception):
    pass


def create_topics(config: dict[str, Any], topics: Iterable[str], policy: TopicPolicy, timeout_s: float) -> None:
    """Creates those of `topics` that do not exist (blocking: call it on a thread). Raises TopicsNotCreated
    if the cluster could not be asked or refused one."""
    admin = AdminClient(config)
    replication = policy.replication if policy.replication is not None else -1
    wanted = [NewTopic(topic, policy.partitions, replication) for topic in sorted(set(topics))]
    try:
        futures = admin.create_topics(wanted, request_timeout=timeout_s, operation_timeout=timeout_s)
    except KafkaException as error:
        raise TopicsNotCreated(str(error)) from None
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout_s + 1)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicsNotCreated(f"{topic}: {error.args[0].str()}") from None
        except TimeoutError:
            raise TopicsNotCreated(f"{topic}: no answer within {timeout_s:g} s") from None
