"""Helpers for tests that run gerbang as real processes over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
GERBANG = [sys.executable, "-m", "gerbang"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any GERBANG_* setting of the developer's, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GERBANG_")}
    return env | extra


def wait_until_ready(url: str, timeout_s: float) -> float:
    """Seconds until `url` answered 200; fails the test after `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} was not ready within {timeout_s} s")
