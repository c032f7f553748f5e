"""``display_width``'s ASCII shortcut gives exactly what counting each character gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from compliancegate.reporters._common import char_width, display_width


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_is_one_column_a_character(text: str) -> None:
    assert display_width(text) == sum(char_width(ch) for ch in text) == len(text)


@given(st.text())
def test_any_text_counts_each_character(text: str) -> None:
    assert display_width(text) == sum(char_width(ch) for ch in text)


def test_wide_and_combining_characters() -> None:
    assert display_width("日本") == 4
    assert display_width("e\u0301") == 1
