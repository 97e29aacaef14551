"""The admin API under /api/v1/admin: every route declares the permission it needs."""
