"""The background worker: long-running loops (claim loops, periodic jobs) with a graceful shutdown."""
