"""Upstream payment providers: one protocol, one pure I/O adapter per provider."""
