"""The Telegram Bot API as alerts use it: an alert rendered as plain-text messages, one `sendMessage` call
per message, and what Telegram's answer means for a retry.

Plain text (no `parse_mode`), so nothing in a message needs escaping. Telegram refuses a message over 4,096
characters, counted in UTF-16 code units, so a long alert becomes several messages, cut after the last line
break that fits (else the last space, else at the limit), each marked `part i/n`. The cut depends only on
the alert, which never changes, so a retry can resume at the first part not yet sent.

The bot token is part of every request's path. It is kept in a `SecretStr` and scrubbed from every error
this module returns: nothing here logs.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from pydantic import SecretStr

from gerbang.kit.jsonobject import json_object
from gerbang.kit.time import to_jakarta

MESSAGE_LIMIT = 4096
"""Telegram's limit for one message's text, in UTF-16 code units."""
_ERROR_LIMIT = 500
_BODY_KEPT = 4096
_WIDEST_PART = 999_999
"""Room for a part number is reserved as if an alert could have this many parts (it never has)."""


@dataclass(frozen=True)
class AlertText:
    """What a message is made of: the alert as stored."""

    id: int
    kind: str
    severity: str
    partner_id: uuid.UUID | None
    created_at: datetime
    message: str


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _header(alert: AlertText, part: str | None) -> str:
    when = to_jakarta(alert.created_at).strftime("%Y-%m-%d %H:%M:%S WIB")
    fields = [f"[{alert.severity.upper()}] {alert.kind}", when]
    if alert.partner_id is not None:
        fields.append(f"partner {alert.partner_id}")
    fields.append(f"alert #{alert.id}")
    if part is not None:
        fields.append(part)
    return " · ".join(fields) + "\n"


def _continuation(alert: AlertText, part: str) -> str:
    return f"alert #{alert.id} · {part}\n"


def messages_of(alert: AlertText) -> list[str]:
    """The alert as the messages to send, in order: a header line (severity, kind, time in Asia/Jakarta,
    partner, alert id) and the text; a long one split into parts whose texts, each without its first
    line, join back into exactly the alert's text."""
    single = _header(alert, None) + alert.message
    if utf16_length(single) <= MESSAGE_LIMIT:
        return [single]
    widest = f"part {_WIDEST_PART}/{_WIDEST_PART}"
    first = MESSAGE_LIMIT - utf16_length(_header(alert, widest))
    rest = MESSAGE_LIMIT - utf16_length(_continuation(alert, widest))
    pieces = split_text(alert.message, first, rest)
    count = len(pieces)
    return [
        (_header(alert, f"part 1/{count}") if n == 0 else _continuation(alert, f"part {n + 1}/{count}")) + piece
        for n, piece in enumerate(pieces)
    ]


def split_text(text: str, first_budget: int, rest_budget: int) -> list[str]:
    """`text` in pieces of at most `first_budget` (the first) and `rest_budget` (the others) UTF-16 units,
    which join back into `text`: each cut is after the last line break that fits, else after the last
    space, else at the limit."""
    if first_budget < 1 or rest_budget < 1:
        raise ValueError("a message budget must leave room for text")
    pieces: list[str] = []
    start = 0
    while True:
        budget = first_budget if not pieces else rest_budget
        end = _fit(text, start, budget)
        if end == len(text):
            pieces.append(text[start:])
            return pieces
        window = text[start:end]
        newline, space = window.rfind("\n"), window.rfind(" ")
        cut = start + (newline + 1 if newline >= 0 else space + 1 if space >= 0 else len(window))
        pieces.append(text[start:cut])
        start = cut


def _fit(text: str, start: int, budget: int) -> int:
    """The end of the longest run of `text` from `start` that fits in `budget` UTF-16 units."""
    end = min(len(text), start + budget)
    units = utf16_length(text[start:end])
    while units > budget:  # characters outside the BMP count twice: give some back
        end -= 1
        units -= 2 if ord(text[end]) > 0xFFFF else 1
    return end


class Answer(enum.StrEnum):
    sent = "sent"
    retry = "retry"
    """A network error, a timeout, a 5xx or a 429: the same message may go later."""
    refused = "refused"
    """Any other answer (a wrong chat id, a bot removed from the chat, a bad token): retrying cannot help."""


@dataclass(frozen=True)
class SendResult:
    answer: Answer
    status_code: int | None = None
    error: str | None = None
    """What went wrong, without the token."""
    retry_after: timedelta | None = None
    """Telegram's `parameters.retry_after` on a 429."""


class TelegramBot:
    def __init__(
        self, session: aiohttp.ClientSession, *, base_url: str, token: SecretStr, chat_id: str, timeout: timedelta
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._chat_id = chat_id
        self._timeout = timeout

    def scrub(self, text: str) -> str:
        """`text` without the token (error messages of the HTTP client may quote the URL)."""
        token = self._token.get_secret_value()
        return text.replace(token, "***") if token else text

    async def send(self, text: str) -> SendResult:
        url = f"{self._base_url}/bot{self._token.get_secret_value()}/sendMessage"
        payload = {"chat_id": self._chat_id, "text": text, "link_preview_options": {"is_disabled": True}}
        try:
            async with self._session.post(
                url, json=payload, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout.total_seconds()),
            ) as answer:  # fmt: skip
                status = answer.status
                raw = await answer.content.read(_BODY_KEPT)
        except TimeoutError:
            return SendResult(Answer.retry, error=f"no answer within {self._timeout.total_seconds():g} s")
        except aiohttp.ClientError as failure:
            return SendResult(Answer.retry, error=self._cut(f"{type(failure).__name__}: {failure}"))
        body = json_object(raw)
        said = self._cut(str(body.get("description") or raw[:200].decode("utf-8", errors="replace")))
        if 200 <= status < 300:
            if body.get("ok") is False:
                return SendResult(Answer.retry, status, f"Telegram answered {status} but not ok: {said}")
            return SendResult(Answer.sent, status)
        error = self._cut(f"Telegram answered {status}: {said}")
        if status == 429:
            return SendResult(Answer.retry, status, error, _retry_after(body))
        if status >= 500:
            return SendResult(Answer.retry, status, error)
        return SendResult(Answer.refused, status, error)

    def _cut(self, text: str) -> str:
        return self.scrub(text)[:_ERROR_LIMIT]


def _retry_after(body: dict[str, Any]) -> timedelta | None:
    parameters = body.get("parameters")
    seconds = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds >= 0:
        return timedelta(seconds=seconds)
    return None
