"""The raw formats (JSON, YAML, TOML, XML): what a policy sees, multi-document YAML with
lines, format detection, and the errors bad content gives."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliancegate.artifacts.registry import detect, formats, get_format, syntax_of
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import Artifact, Status

Write = Callable[[str, "str | bytes"], Path]


def parse(path: Path, fmt: str) -> list[Artifact]:
    format_ = get_format(fmt)
    assert format_ is not None
    return format_.parse(Source(path, path.name))


# --------------------------------------------------------------------------- JSON


def test_json_document(artifact_file: Write) -> None:
    data = {"a": [1, 2.5, None, True], "b": {"c": "é"}, "d": ""}
    path = artifact_file("x.json", json.dumps(data))
    [artifact] = parse(path, "json")
    assert artifact.document == data
    assert (artifact.format, artifact.kind, artifact.syntax) == ("json", "raw", "json")
    assert artifact.path == "x.json"
    assert artifact.line == 1


def test_json_with_bom_and_top_level_scalar(artifact_file: Write) -> None:
    path = artifact_file("x.json", "\ufeff[1, 2]".encode())
    assert parse(path, "json")[0].document == [1, 2]
    path = artifact_file("y.json", "42")
    assert parse(path, "json")[0].document == 42


@pytest.mark.parametrize(
    ("content", "words", "line"),
    [
        ('{"a": 1,\n "b": [1, 2', "truncated JSON", 2),
        ('{"a": 1}\n{"b": 2}', "invalid JSON", 2),
        ('{"a": nope}', "invalid JSON", 1),
        ("", "empty file", None),
    ],
)
def test_json_errors_name_file_and_line(
    artifact_file: Write, content: str, words: str, line: int | None
) -> None:
    path = artifact_file("bad.json", content)
    with pytest.raises(ArtifactError) as caught:
        parse(path, "json")
    assert caught.value.file == "bad.json"
    assert words in caught.value.message
    assert caught.value.line == line
    assert str(caught.value).startswith("bad.json")


# --------------------------------------------------------------------------- YAML


MULTI = """\
apiVersion: v1
kind: Pod
metadata: {name: a}
---
apiVersion: v1
kind: Pod
metadata: {name: b}
debug: true
---
# a comment before the document

apiVersion: v1
kind: Pod
metadata: {name: c}
debug: true
spec:
  containers:
    - name: ok
      image: nginx:1.27
    - name: bad
      image: nginx:latest
"""


def test_yaml_multi_document_gives_one_artifact_per_document(artifact_file: Write) -> None:
    path = artifact_file("m.yaml", MULTI + "---\n---\n# only a comment\n")
    artifacts = parse(path, "yaml")
    assert [a.document["metadata"]["name"] for a in artifacts] == ["a", "b", "c"]
    assert [a.index for a in artifacts] == [0, 1, 2]
    assert [a.line for a in artifacts] == [1, 5, 12]


def test_yaml_12_scalars(artifact_file: Write) -> None:
    path = artifact_file(
        "s.yaml",
        "on: push\nyes_: yes\nno_: no\nt: true\nd: 2026-01-02\nv: 1.10\noct: 0o17\nz: 012\n",
    )
    [artifact] = parse(path, "yaml")
    assert artifact.document == {
        "on": "push",
        "yes_": "yes",
        "no_": "no",
        "t": True,
        "d": "2026-01-02",
        "v": 1.1,
        "oct": 15,
        "z": 12,
    }


def _project(root: Path, policy: str, artifact_name: str, artifact: str) -> None:
    (root / "policies").mkdir()
    (root / "policies" / "p.yaml").write_text(policy, encoding="utf-8")
    (root / "release").mkdir()
    (root / "release" / artifact_name).write_text(artifact, encoding="utf-8")


def _run(root: Path) -> Any:
    from compliancegate.check import CheckOptions, run_check

    return run_check(
        CheckOptions(
            paths=(Path("release"),),
            policies=(Path("policies"),),
            no_ledger=True,
        )
    )


def test_yaml_multi_document_violations_carry_each_documents_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    policy = """\
apiVersion: compliancegate/v1
kind: Policy
id: no-debug
title: No debug pods
controls: [x:Y]
severity: high
input: yaml
rule: {path: debug, op: not_equals, value: true}
message: "pod {item.metadata.name} has debug on"
"""
    _project(tmp_path, policy, "pods.yaml", MULTI)
    report = _run(tmp_path)
    [result] = report.results
    assert result.status is Status.FAIL
    found = sorted((v.message, v.location.file, v.location.line) for v in result.violations)
    assert found == [
        ("pod b has debug on", "release/pods.yaml", 5),
        ("pod c has debug on", "release/pods.yaml", 12),
    ]
    assert len({v.fingerprint for v in result.violations}) == 2


def test_yaml_for_each_item_location_is_the_items_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    policy = """\
apiVersion: compliancegate/v1
kind: Policy
id: pinned
title: Pinned images
controls: [x:Y]
severity: high
input: yaml
rule:
  for_each: "spec.containers[]"
  assert: {not: {path: image, op: matches, value: ":latest$"}}
message: "{item.name}"
"""
    _project(tmp_path, policy, "pods.yaml", MULTI)
    [result] = _run(tmp_path).results
    [violation] = result.violations
    assert violation.message == "bad"
    assert violation.location == type(violation.location)("release/pods.yaml", 20)


def test_yaml_document_that_is_not_a_mapping_errors_rather_than_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A path into a string document selects nothing: the assertion sees a missing value.
    monkeypatch.chdir(tmp_path)
    policy = """\
apiVersion: compliancegate/v1
kind: Policy
id: must-be-approved
title: Approved
controls: [x:Y]
severity: high
input: yaml
rule: {path: approved, op: equals, value: true}
"""
    _project(tmp_path, policy, "a.yaml", "just a string\n")
    report = _run(tmp_path)
    assert report.results[0].status in (Status.FAIL, Status.ERROR)
    assert report.decision != "compliant"


def test_yaml_errors_name_file_and_line(artifact_file: Write) -> None:
    path = artifact_file("bad.yaml", "a: 1\nb:\n\t- 2\n")
    with pytest.raises(ArtifactError) as caught:
        parse(path, "yaml")
    assert caught.value.file == "bad.yaml"
    assert caught.value.line == 3
    assert "invalid YAML" in caught.value.message


def test_yaml_duplicate_keys_are_refused(artifact_file: Write) -> None:
    path = artifact_file("dup.yaml", "approved: false\nname: x\napproved: true\n")
    with pytest.raises(ArtifactError) as caught:
        parse(path, "yaml")
    assert caught.value.line == 3
    assert "duplicate key" in caught.value.message


# --------------------------------------------------------------------------- TOML


def test_toml_dates_become_iso_strings(artifact_file: Write) -> None:
    path = artifact_file(
        "c.toml",
        'title = "x"\n[dates]\nday = 2026-01-02\noffset = 1979-05-27T07:32:00-08:00\n'
        "local = 1979-05-27T07:32:00.5\ntime = 07:32:00\n"
        "[[servers]]\nname = 'a'\n[[servers]]\nname = 'b'\nwhen = [2026-01-02]\n",
    )
    [artifact] = parse(path, "toml")
    assert artifact.document == {
        "title": "x",
        "dates": {
            "day": "2026-01-02",
            "offset": "1979-05-27T07:32:00-08:00",
            "local": "1979-05-27T07:32:00.500000",
            "time": "07:32:00",
        },
        "servers": [{"name": "a"}, {"name": "b", "when": ["2026-01-02"]}],
    }
    json.dumps(artifact.document)  # JSON-shaped: no date objects left


def test_toml_error_names_file(artifact_file: Write) -> None:
    path = artifact_file("bad.toml", "a = 1\na = 2\n")
    with pytest.raises(ArtifactError) as caught:
        parse(path, "toml")
    assert caught.value.file == "bad.toml"
    assert "invalid TOML" in caught.value.message


# --------------------------------------------------------------------------- XML


def test_xml_convention(artifact_file: Write) -> None:
    path = artifact_file(
        "d.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ns:suite xmlns:ns="urn:junit" xmlns:x="urn:x" name="s" x:tests="3">\n'
        "  <case name='a'/>\n"
        "  <case name='b'><failure message='boom'>trace</failure></case>\n"
        "  <case name='c'>  <skipped/>  </case>\n"
        "  <single>text</single>\n"
        "  <ns:props><prop>1</prop></ns:props>\n"
        "  <?pi ignored?>\n"
        "</ns:suite>\n",
    )
    [artifact] = parse(path, "xml")
    assert artifact.document == {
        "suite": {
            "@name": "s",
            "@tests": "3",  # namespace dropped from the attribute, value kept as text
            "case": [
                {"@name": "a"},
                {"@name": "b", "failure": {"@message": "boom", "#text": "trace"}},
                {"@name": "c", "skipped": None},
            ],
            "single": "text",
            "props": {"prop": "1"},  # one child: not a list
        }
    }


def test_xml_single_child_is_not_a_list_but_two_are(artifact_file: Write) -> None:
    one = parse(artifact_file("one.xml", "<r><i>1</i></r>"), "xml")[0].document
    two = parse(artifact_file("two.xml", "<r><i>1</i><i>2</i></r>"), "xml")[0].document
    assert one == {"r": {"i": "1"}}
    assert two == {"r": {"i": ["1", "2"]}}


def test_xml_bytes_encoding_is_honoured(artifact_file: Write) -> None:
    content = '<?xml version="1.0" encoding="ISO-8859-1"?><r>café</r>'.encode("latin-1")
    assert parse(artifact_file("l.xml", content), "xml")[0].document == {"r": "café"}


@pytest.mark.parametrize(
    "content",
    [
        '<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>',
        '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://invalid.invalid/x.dtd"> %p;]><r/>',
    ],
)
def test_xml_entities_are_refused(artifact_file: Write, content: str) -> None:
    path = artifact_file("h.xml", content)
    with pytest.raises(ArtifactError) as caught:
        parse(path, "xml")
    assert caught.value.file == "h.xml"
    assert "hostile XML" in caught.value.message


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.json", b"not json at all", "json"),
        ("a.sarif", b"{}", "json"),
        ("a.YAML", b"a: 1", "yaml"),
        ("a.yml", b"a: 1", "yaml"),
        ("a.toml", b"a = 1", "toml"),
        ("a.xml", b"<a/>", "xml"),
        ("noext", b'  \n{"a": 1}', "json"),
        ("noext", b"[1]", "json"),
        ("noext", b"<?xml version='1.0'?><a/>", "xml"),
        ("noext", b"a: 1", None),
        ("README.md", b"# title", None),
        ("empty", b"", None),
    ],
)
def test_detection(artifact_file: Write, name: str, content: bytes, expected: str | None) -> None:
    path = artifact_file(name, content)
    source = Source(path, name)
    assert syntax_of(source) == expected
    fmt = detect(source)
    claimed = "sarif" if name.endswith(".sarif") else expected
    assert (fmt.name if fmt is not None else None) == claimed


def test_every_raw_format_is_registered() -> None:
    assert {"json", "yaml", "toml", "xml"} <= set(formats())
    for name in ("json", "yaml", "toml", "xml"):
        fmt = get_format(name)
        assert fmt is not None
        assert fmt.kind == "raw"
        assert fmt.syntax == name
    assert get_format("nope") is None
