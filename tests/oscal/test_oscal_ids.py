"""Control ids in the catalog's form, deterministic version 5 UUIDs and RFC 3339 UTC times,
each checked against the very patterns of NIST's schema."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from compliancegate.loading.register import load_register
from compliancegate.oscal.ids import NAMESPACE, control_id, line, oscal_uuid, string, timestamp
from compliancegate.oscal.validation import load_schema

DEFINITIONS = load_schema("assessment-results")["definitions"]
TOKEN = regex.compile(DEFINITIONS["TokenDatatype"]["pattern"])
UUID = regex.compile(DEFINITIONS["UUIDDatatype"]["pattern"])
DATETIME = regex.compile(DEFINITIONS["DateTimeWithTimezoneDatatype"]["pattern"])
STRING = regex.compile(DEFINITIONS["StringDatatype"]["pattern"])
LINE = regex.compile(DEFINITIONS["MarkupLineDatatype"]["pattern"])
REGISTERS = Path(__file__).parent.parent.parent / "registers"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("nist-800-53-r5:SI-2", "si-2"),
        ("nist-800-53-r5:AC-2(1)", "ac-2.1"),
        ("nist-800-53-r5:SC-7(12)", "sc-7.12"),
        ("nist-800-53-r5:AC-2 (4)", "ac-2-.4"),
        ("tiny:VULN-1", "vuln-1"),
        ("SI-2", "si-2"),
        ("iso-27001:A.8.8", "a.8.8"),
        ("x:8.1", "_8.1"),
        ("x:a_b", "a-b"),
        ("x:Ñu 1", "ñu-1"),
    ],
)
def test_control_ids_take_the_catalogs_form(ref: str, expected: str) -> None:
    assert control_id(ref) == expected
    assert TOKEN.fullmatch(expected)


@pytest.mark.parametrize("ref", ["x:", "x:   ", "x:()", "x:-", "x:.."])
def test_a_control_with_nothing_nameable_is_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="no id"):
        control_id(ref)


def test_every_starter_control_maps_to_a_nist_catalog_id() -> None:
    register = load_register((REGISTERS,))
    catalog = regex.compile(r"[a-z]{2}-\d+(\.\d+)?")
    nist = [ref for ref in register.controls if ref.startswith("nist-800-53-r5:")]
    assert len(nist) > 10
    for ref in nist:
        assert catalog.fullmatch(control_id(ref)), ref


@given(st.text(max_size=40))
def test_any_control_is_a_token_or_refused(text: str) -> None:
    try:
        cid = control_id(f"std:{text}")
    except ValueError:
        return
    assert TOKEN.match(cid), (text, cid)


@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_uuids_are_version_5_valid_and_stable(parts: list[str]) -> None:
    made = oscal_uuid(*parts)
    assert UUID.fullmatch(made)
    assert uuid.UUID(made).version == 5
    assert oscal_uuid(*parts) == made
    if all("\x00" not in p and not any(0xD800 <= ord(c) <= 0xDFFF for c in p) for p in parts):
        assert made == str(uuid.uuid5(NAMESPACE, "\x00".join(parts)))


def test_uuid_parts_do_not_run_together() -> None:
    assert oscal_uuid("ab", "c") != oscal_uuid("a", "bc")
    assert oscal_uuid("a\ud800") != oscal_uuid("a\ud801")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), "2026-03-02T09:00:00Z"),
        (dt.datetime(2026, 3, 2, 9, 0, 0, 999_999, tzinfo=dt.UTC), "2026-03-02T09:00:00Z"),
        (dt.datetime(2026, 3, 2, 9, 0), "2026-03-02T09:00:00Z"),
        (
            dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=-9))),
            "2026-03-02T10:00:00Z",
        ),
        (dt.datetime(2028, 2, 29, 23, 59, 59, tzinfo=dt.UTC), "2028-02-29T23:59:59Z"),
    ],
)
def test_times_are_rfc3339_utc(moment: dt.datetime, expected: str) -> None:
    assert timestamp(moment) == expected
    assert DATETIME.fullmatch(expected)


@given(st.text())
def test_any_text_becomes_a_valid_line_and_string(text: str) -> None:
    for made in (line(text), string(text)):
        assert LINE.fullmatch(made) and STRING.fullmatch(made)
        made.encode("utf-8")


def _line_by_character(text: str, fallback: str = "(empty)") -> str:
    """The first implementation of ``ids.line``: line breakers replaced one by one."""
    from compliancegate.reporters._common import LINE_BREAKERS, replace_surrogates

    cleaned = "".join(" " if ch in LINE_BREAKERS else ch for ch in replace_surrogates(text))
    return " ".join(cleaned.split()) or fallback


@given(
    st.lists(
        st.text(max_size=4) | st.sampled_from([*"\n\r\x0b\x0c\x85\u2028\u2029\t \x1c", "\ud800"]),
        max_size=10,
    ).map("".join)
)
def test_a_markup_line_is_the_character_by_character_line(text: str) -> None:
    from compliancegate.oscal.ids import line

    assert line(text) == _line_by_character(text)


@given(
    st.lists(
        st.text(max_size=4) | st.sampled_from([*"\\`*_[]|~$@#<>&!\n", "&amp;", "\\\\"]),
        max_size=10,
    ).map("".join)
)
def test_inert_markdown_escapes_as_the_pattern_did(text: str) -> None:
    # The escapes were one regex substitution with a call per match; now one translate.
    from compliancegate.oscal.ids import inert

    entities = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
    special = regex.compile(r"[\\`*_\[\]|~$@#<>&!]")
    expected = special.sub(lambda m: entities.get(m.group(), "\\" + m.group()), line(text))
    assert inert(text) == expected
