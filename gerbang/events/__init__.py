"""Events as rows: partner webhooks and the Kafka outbox, written in the transaction of the change."""
