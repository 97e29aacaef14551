"""Who may reach the API and how often a request counts: IP allow-lists, rate limits, the partner request log,
and `Idempotency-Key` (a repeated request answered with the first response)."""
