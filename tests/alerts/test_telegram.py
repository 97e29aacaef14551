"""How an alert becomes Telegram messages: the header, and long alerts split at 4,096 UTF-16 units into parts
that join back into exactly the alert's text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from gerbang.alerts.telegram import MESSAGE_LIMIT, AlertText, messages_of, split_text, utf16_length

PARTNER = uuid.UUID("5a0e3c9e-7f6b-4a52-9c1e-0d6f1b2a3c4d")
AT = datetime(2026, 12, 1, 16, 3, 7, tzinfo=UTC)  # 23:03:07 in Jakarta


def _alert(message: str, *, partner_id: uuid.UUID | None = PARTNER, alert_id: int = 42) -> AlertText:
    return AlertText(alert_id, "withdrawal_contradicted", "warning", partner_id, AT, message)


def _bodies(messages: list[str]) -> str:
    return "".join(message.split("\n", 1)[1] for message in messages)


def test_a_short_alert_is_one_message_with_its_header() -> None:
    assert messages_of(_alert("Check withdrawal W-1 by hand")) == [
        "[WARNING] withdrawal_contradicted · 2026-12-01 23:03:07 WIB · partner 5a0e3c9e-7f6b-4a52-9c1e-0d6f1b2a3c4d"
        " · alert #42\nCheck withdrawal W-1 by hand"
    ]
    assert messages_of(_alert("x", partner_id=None)) == [
        "[WARNING] withdrawal_contradicted · 2026-12-01 23:03:07 WIB · alert #42\nx"
    ]


def test_an_alert_that_just_fits_is_not_split() -> None:
    header = len(messages_of(_alert(""))[0])
    assert len(messages_of(_alert("a" * (MESSAGE_LIMIT - header)))) == 1
    assert len(messages_of(_alert("a" * (MESSAGE_LIMIT - header + 1)))) == 2


def test_a_long_alert_is_cut_at_line_breaks_in_numbered_parts() -> None:
    lines = [f"partner {n:03}: paid 1.234.567, settled 1.000.000, pending 234.567" for n in range(150)]
    message = "\n".join(lines)
    assert len(message) > 2 * MESSAGE_LIMIT
    messages = messages_of(_alert(message))
    assert len(messages) == 3
    assert messages[0].split("\n", 1)[0].endswith(" · alert #42 · part 1/3")
    assert [m.split("\n", 1)[0] for m in messages[1:]] == ["alert #42 · part 2/3", "alert #42 · part 3/3"]
    assert _bodies(messages) == message
    assert all(utf16_length(m) <= MESSAGE_LIMIT for m in messages)
    assert all(m.endswith("\n") for m in messages[:-1])  # every cut is at the end of a line
    assert all(m.split("\n", 1)[1].split("\n", 1)[0] in lines for m in messages)  # and no line is cut


def test_text_without_line_breaks_is_cut_at_spaces_then_anywhere() -> None:
    words = " ".join(["rupiah"] * 1500)
    pieces = split_text(words, 100, 100)
    assert "".join(pieces) == words
    assert all(p.endswith(" ") for p in pieces[:-1])
    solid = "x" * 250
    assert split_text(solid, 100, 80) == ["x" * 100, "x" * 80, "x" * 70]


def test_characters_outside_the_bmp_count_twice_and_are_never_cut_in_half() -> None:
    text = "💸" * 3000  # 6,000 UTF-16 units
    messages = messages_of(_alert(text))
    assert len(messages) == 2
    assert _bodies(messages) == text
    assert all(utf16_length(m) <= MESSAGE_LIMIT for m in messages)
    assert split_text("a💸b", 2, 2) == ["a", "💸", "b"]


def test_the_split_is_the_same_every_time() -> None:
    message = "\n".join(f"line {n} " + "z" * (n % 97) for n in range(400))
    assert messages_of(_alert(message)) == messages_of(_alert(message))


def test_a_budget_must_leave_room() -> None:
    with pytest.raises(ValueError, match="room"):
        split_text("abc", 0, 10)
