"""Whole numbers written as text in artifacts (line numbers, hit counts, placeholders)."""

from __future__ import annotations

MAX_DIGITS = 18
"""Longer than any real count; int() of a huge digit string is slow, and Python refuses more
than 4,300 digits with ValueError."""


def whole_number(text: str | None, max_digits: int = MAX_DIGITS) -> int | None:
    """``text`` as a non-negative integer written in ASCII digits, or None.

    ``str.isdigit`` alone is not enough: it is true for ``"²"`` and other Unicode digits
    that ``int()`` rejects.
    """
    if text is None:
        return None
    value = text.strip()
    if not value or len(value) > max_digits or not (value.isascii() and value.isdigit()):
        return None
    return int(value)
