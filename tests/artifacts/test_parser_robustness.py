"""Inputs that once escaped the parsers as Python exceptions, and the store's last line of
defence: whatever a parser raises, the file's policies end in error and the run goes on."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from compliancegate.artifacts import registry
from compliancegate.artifacts.numbers import whole_number
from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

LONG = "9" * 5000
STATEMENT = '{"_type":"https://in-toto.io/Statement/v1","subject":[],"x":' + LONG + "}"


@pytest.mark.parametrize(
    ("name", "content", "format_name"),
    [
        ("junit.xml", '<testsuite><testcase name="t" file="a.py" line="²"/></testsuite>', "junit"),
        (
            "cobertura.xml",
            '<coverage line-rate="1"><packages><package><classes><class filename="a.py">'
            '<lines><line number="²" hits="1"/></lines></class></classes></package>'
            "</packages></coverage>",
            "cobertura",
        ),
        (
            "cov2.xml",
            '<coverage line-rate="1"><packages><package><classes><class filename="a.py">'
            '<lines><line number="1" hits="1" branch="true" condition-coverage="50% (1/'
            + LONG
            + ')"/></lines></class></classes></package></packages></coverage>',
            "cobertura",
        ),
        ("lcov.info", "SF:a\nDA:²,1\nend_of_record\n", "lcov"),
        ("a.intoto.jsonl", STATEMENT + "\n" + STATEMENT + "\n", "provenance"),
        (
            "dsse.json",
            json.dumps(
                {
                    "payloadType": "application/vnd.in-toto+json",
                    "payload": base64.b64encode(STATEMENT.encode()).decode(),
                    "signatures": [],
                }
            ),
            "provenance",
        ),
        ("big.toml", "a = " + LONG + "\n", "toml"),
        (
            "long-name.intoto.json",
            json.dumps(
                {
                    "_type": "https://in-toto.io/Statement/v1",
                    "subject": [{"name": "a" * 300, "digest": {"sha256": "00"}}],
                }
            ),
            "provenance",
        ),
    ],
)
def test_odd_digits_huge_numbers_and_long_names_never_escape_as_exceptions(
    tmp_path: Path, name: str, content: str, format_name: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    fmt = registry.get_format(format_name)
    assert fmt is not None
    try:
        artifacts = fmt.parse(Source(path, name))
    except ArtifactError as exc:
        assert exc.file == name
    else:
        for artifact in artifacts:
            json.dumps(artifact.document)


def test_whole_numbers_are_ascii_digits_of_bounded_length() -> None:
    assert whole_number(" 42 ") == 42
    assert whole_number("²") is None
    assert whole_number("-1") is None
    assert whole_number("9" * 19) is None
    assert whole_number(None) is None


def test_a_parser_bug_ends_that_files_policies_in_error_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug cannot be provoked in a correct parser, so one is planted in the raw JSON format.
    raw = registry.get_format("json")
    assert raw is not None

    def broken(source: Source) -> list[object]:
        raise KeyError("oops")

    monkeypatch.setattr(raw, "parse", broken)
    (tmp_path / "a.json").write_text("{}")
    selection = ArtifactStore([tmp_path]).select(registry_input("json"))
    (error,) = selection.errors
    assert error.file == "a.json" or error.file.endswith("a.json")
    assert "json parser failed: KeyError" in error.message


def test_an_oversized_file_is_read_once_however_often_it_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.json"
    path.write_text("[" + "1," * 600 + "1]")
    source = Source(path, "big.json", max_bytes=100)
    reads: list[int] = []
    original = Source._open_read

    def counting(self: Source, limit: int) -> bytes:
        reads.append(limit)
        return original(self, limit)

    monkeypatch.setattr(Source, "_open_read", counting)
    for _ in range(3):
        with pytest.raises(ArtifactError, match="artifact limit"):
            source.data  # noqa: B018
    assert reads == [101]


def registry_input(kind: str) -> object:
    from compliancegate.model import InputSpec

    return InputSpec(kind=kind)
