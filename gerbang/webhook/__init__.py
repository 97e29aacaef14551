"""Partner webhooks: delivery of the events written by `gerbang.events`, retries, replays, visibility."""
