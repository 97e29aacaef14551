"""Operational surface: health, readiness and metrics."""
