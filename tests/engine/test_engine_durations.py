"""Durations and instants used by older_than/newer_than."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from compliancegate.engine.durations import parse_date, parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400),
        ("12h", 12 * 3600),
        ("15m", 900),
        ("45s", 45),
        ("2w", 14 * 86400),
        (" 7d ", 7 * 86400),
        ("0d", 0),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["30", "d", "1.5d", "30days", "-1d", "30D", "", "1y", 30, None])
def test_parse_duration_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-02", dt.datetime(2026, 1, 2, tzinfo=dt.UTC)),
        ("2026-01-02T03:04:05Z", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("2026-01-02T03:04:05z", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("2026-01-02T05:04:05+02:00", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("2026-01-02T03:04:05", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        (0, dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
        (86400.5, dt.datetime(1970, 1, 2, 0, 0, 0, 500000, tzinfo=dt.UTC)),
        (dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, tzinfo=dt.UTC)),
    ],
)
def test_parse_instant(value: Any, expected: dt.datetime) -> None:
    assert parse_instant(value) == expected


@pytest.mark.parametrize(
    "value",
    [True, False, None, "soon", "2026-02-30", "9" * 100, [2026], 10**30, "2026-01-02" + " " * 60],
)
def test_parse_instant_rejects(value: Any) -> None:
    assert parse_instant(value) is None


def test_parse_date() -> None:
    assert parse_date("2026-10-01") == dt.date(2026, 10, 1)
    assert parse_date("2026-10-01T23:30:00-02:00") == dt.date(2026, 10, 1)  # its date part
    assert parse_date(None) is None
    assert parse_date("not a date") is None
