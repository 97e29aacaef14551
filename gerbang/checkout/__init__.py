"""The hosted checkout: the page a partner's customer pays on, at `/pay/{order_id}`."""
