"""Coverage: Cobertura XML (coverage.py, Cobertura 1.9, gcovr) and lcov tracefiles from the
corpus with concrete values, counts computed where the producer omits them, detection of
the text syntax, combining two reports, and hostile input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_corpus import (
    ENTITY_BOMB,
    FIXTURES,
    detected,
    document,
    gate,
    mutated,
    parse,
    read_hostile,
)

from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.errors import ArtifactError
from compliancegate.model import Decision, InputSpec, Status

Write = Callable[[str, "str | bytes"], Path]


def totals(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (
        doc["line_rate"],
        doc["branch_rate"],
        doc["lines_valid"],
        doc["lines_covered"],
        doc["branches_valid"],
        doc["branches_covered"],
    )


def files(doc: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {f["path"]: (f["line_rate"], f["lines_valid"], f["lines_covered"]) for f in doc["files"]}


# --------------------------------------------------------------------------- Cobertura


def test_coveragepy_with_branches() -> None:
    doc = document("coverage/coveragepy-gold-y_xml_branch.cobertura.xml", "cobertura")
    assert totals(doc) == (0.8, 0.5, 5, 4, 2, 1)
    assert files(doc) == {"y.py": (0.8, 5, 4)}
    assert doc["files"][0]["source"] == "coverage/coveragepy-gold-y_xml_branch.cobertura.xml"


def test_gcovr() -> None:
    doc = document("coverage/gcovr-5.0.cobertura.xml", "cobertura")
    assert totals(doc) == (0.6031468531468531, 0.3968253968253968, 572, 345, 252, 100)
    assert files(doc) == {"redis_ipc.c": (0.603147, 572, 345)}


def test_cobertura_1_9_counts_computed_from_the_lines() -> None:
    doc = document("coverage/cobertura-1.9-java.xml", "cobertura")
    # The root has only line-rate="0.9" branch-rate="0.75": the rates are the producer's,
    # the counts come from the classes' <line> elements (method lines are not recounted).
    assert totals(doc) == (0.9, 0.75, 34, 31, 12, 9)
    assert files(doc) == {
        # Main and its inner class Main$Helper share one file: 11 + 4 lines.
        "Main.java": (1.0, 15, 15),
        "search/BinarySearch.java": (0.916667, 12, 11),
        "search/ISortedArraySearch.java": (None, 0, 0),
        "search/LinearSearch.java": (0.714286, 7, 5),
    }


@pytest.mark.parametrize(
    "name",
    [
        "cobertura-1.9-java.xml",
        "coveragepy-gold-y_xml_branch.cobertura.xml",
        "gcovr-5.0.cobertura.xml",
    ],
)
def test_every_cobertura_file_is_detected(name: str) -> None:
    assert detected(FIXTURES / "coverage" / name) == "cobertura"


def cobertura(artifact_file: Write, root: str, classes: str = "") -> dict[str, Any]:
    packages = f"<packages><package><classes>{classes}</classes></package></packages>"
    body = f"<coverage {root}>{packages}</coverage>"
    (artifact,) = parse(artifact_file("coverage.xml", body), "cobertura")
    doc: dict[str, Any] = artifact.document
    return doc


def test_no_branch_measurement_is_null_not_zero(artifact_file: Write) -> None:
    # coverage.py without --branch writes branch-rate="0" and no branches.
    doc = cobertura(
        artifact_file,
        'line-rate="1" branch-rate="0" lines-valid="1" lines-covered="1" '
        'branches-valid="0" branches-covered="0"',
        '<class filename="a.py"><lines><line number="1" hits="1"/></lines></class>',
    )
    assert (doc["line_rate"], doc["branch_rate"]) == (1.0, None)


def test_no_lines_is_null(artifact_file: Write) -> None:
    doc = cobertura(artifact_file, 'line-rate="1" branch-rate="1"')
    assert totals(doc) == (None, None, 0, 0, 0, 0)


def test_rates_computed_where_the_root_has_none(artifact_file: Write) -> None:
    doc = cobertura(
        artifact_file,
        'version="x"',
        '<class filename="a.py"><lines><line number="1" hits="2"/><line number="2" hits="0"/>'
        '<line number="3" hits="1" branch="true" condition-coverage="25% (1/4)"/></lines></class>'
        '<class filename="a.py"><lines><line number="2" hits="5"/></lines></class>',
    )
    # Line 2 is reported by two classes of one file: counted once, with its highest hits.
    assert totals(doc) == (1.0, 0.25, 3, 3, 4, 1)


@pytest.mark.parametrize(
    ("root", "classes", "problem"),
    [
        ('line-rate="1.5"', "", "between 0 and 1"),
        ('line-rate="abc"', "", "not a number"),
        ('line-rate="nan"', "", "between 0 and 1"),
        ('lines-valid="x" lines-covered="1"', "", "not a whole number"),
        ('lines-valid="1" lines-covered="2"', "", "more lines"),
        (
            "",
            '<class filename="a"><lines><line number="x" hits="1"/></lines></class>',
            "line number",
        ),
        (
            "",
            '<class filename="a"><lines><line number="1" hits="9" branch="true" '
            'condition-coverage="(3/2)"/></lines></class>',
            "3 of 2 branches",
        ),
        (
            "",
            '<class filename="a"><lines><line number="1" hits="' + "9" * 40 + '"/></lines></class>',
            "not a whole number",
        ),
    ],
)
def test_malformed_cobertura(artifact_file: Write, root: str, classes: str, problem: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        cobertura(artifact_file, root, classes)
    assert caught.value.file == "coverage.xml"
    assert problem in caught.value.message


def test_clover_is_not_cobertura(artifact_file: Write) -> None:
    clover = artifact_file(
        "clover.xml", '<coverage generated="1" clover="4.4.1"><project/></coverage>'
    )
    assert detected(clover) == "xml"


def test_entity_bomb_refused(artifact_file: Write) -> None:
    path = artifact_file("coverage.xml", ENTITY_BOMB.format(root="coverage"))
    with pytest.raises(ArtifactError) as caught:
        parse(path, "cobertura")
    assert "hostile" in caught.value.message


# --------------------------------------------------------------------------- lcov


def test_lcov_corpus() -> None:
    doc = document("coverage/lcov.info", "lcov")
    assert totals(doc) == (0.909091, 0.75, 22, 20, 8, 6)
    assert files(doc) == {
        "src/client.ts": (1.0, 4, 4),
        "src/configuration.ts": (1.0, 9, 9),
        "src/git.ts": (0.777778, 9, 7),
    }
    assert detected(FIXTURES / "coverage" / "lcov.info") == "lcov"


def test_lcov_from_coverage_py_with_branches() -> None:
    """coverage.py 7 writes branch ids as text (``BRDA:5,0,jump to line 6,1``)."""
    doc = document("coverage/coveragepy-7.17-branch.lcov", "lcov")
    # The numbers coverage.py printed itself: LF:21 LH:17 BRF:12 BRH:8.
    assert totals(doc) == (0.809524, 0.666667, 21, 17, 12, 8)
    assert files(doc) == {"sample.py": (0.809524, 21, 17)}
    assert detected(FIXTURES / "coverage" / "coveragepy-7.17-branch.lcov") == "lcov"


@pytest.mark.parametrize(
    ("record", "branches"),
    [
        ("BRDA:3,0,jump to line 14,1\nBRDA:3,0,exit the module,0", (2, 1)),
        ("BRDA:3,0,return from function 'f, g',1\nBRDA:3,0,jump to line 9,-", (2, 1)),
        ("BRDA:3,e0,0,1\nBRDA:3,e0,1,0", (2, 1)),  # lcov 2: exception branch blocks
        ("BRDA:3,0,0,1\nBRDA:3,0,0,0", (1, 1)),  # the same branch twice: merged
    ],
)
def test_lcov_branch_ids_are_ids(
    artifact_file: Write, record: str, branches: tuple[int, int]
) -> None:
    doc = lcov(artifact_file, f"SF:a.py\nDA:3,1\n{record}\nend_of_record\n")
    assert (doc["branches_valid"], doc["branches_covered"]) == branches


@pytest.mark.parametrize("record", ["BRDA:x,0,0,1", "BRDA:3,0,0,many", "BRDA:3,0,1"])
def test_lcov_branch_counts_are_numbers(artifact_file: Write, record: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        lcov(artifact_file, f"SF:a.py\n{record}\nend_of_record\n")
    assert caught.value.line == 2


def lcov(artifact_file: Write, text: str, name: str = "lcov.info") -> dict[str, Any]:
    (artifact,) = parse(artifact_file(name, text), "lcov")
    doc: dict[str, Any] = artifact.document
    return doc


def test_lcov_records_of_one_file_merge(artifact_file: Write) -> None:
    doc = lcov(
        artifact_file,
        "TN:unit\nSF:a.c\nDA:1,1\nDA:2,0\nBRDA:1,0,0,1\nBRDA:1,0,1,-\nLF:2\nLH:1\nend_of_record\n"
        "TN:integration\nSF:a.c\nDA:2,3\nBRDA:1,0,1,0\nend_of_record\n",
    )
    # Line 2 ran in the second test: 2 of 2 lines; branch (1,0,1) never taken: 1 of 2.
    assert totals(doc) == (1.0, 0.5, 2, 2, 2, 1)
    assert files(doc) == {"a.c": (1.0, 2, 2)}


@pytest.mark.parametrize(
    ("branch", "block"),
    [
        # coverage.py 7 (`coverage lcov` with branch data) names branches by description.
        ("jump to line 7", "0"),
        ("return from function 'run'", "0"),
        ("exit the module", "0"),
        # lcov 2: an expression that holds commas, and an exception branch block.
        ("(a, b) == (1, 2)", "e0"),
        # The classic numeric names.
        ("1", "0"),
    ],
)
def test_lcov_branch_names_are_text(artifact_file: Write, branch: str, block: str) -> None:
    doc = lcov(
        artifact_file,
        f"SF:a.py\nDA:6,1\nBRDA:6,{block},{branch},1\nBRDA:6,{block},other {branch},0\n"
        f"BRDA:6,{block},{branch},0\nBRDA:9,{block},{branch},-\nend_of_record\n",
    )
    # Three branches (same name on another line is another branch); taken once: 1 of 3.
    assert totals(doc) == (1.0, round(1 / 3, 6), 1, 1, 3, 1)


@pytest.mark.parametrize(
    ("record", "bad"),
    [("BRDA:x,0,jump to line 7,1", "'x'"), ("BRDA:6,0,jump to line 7,yes", "'yes'")],
)
def test_lcov_branch_line_and_count_are_numbers(
    artifact_file: Write, record: str, bad: str
) -> None:
    with pytest.raises(ArtifactError) as caught:
        lcov(artifact_file, f"SF:a.py\n{record}\nend_of_record\n")
    assert f"{bad} is not a count" in caught.value.message
    assert caught.value.line == 2


def test_lcov_summaries_alone(artifact_file: Write) -> None:
    doc = lcov(artifact_file, "SF:b.py\nLF:10\nLH:4\nBRF:0\nBRH:0\nend_of_record\n")
    assert totals(doc) == (0.4, None, 10, 4, 0, 0)


def test_lcov_suffix_and_checksums(artifact_file: Write) -> None:
    doc = lcov(artifact_file, "\n\nSF:x.rs\nDA:3,0,abc==\nFN:1,main\nend_of_record", "cov.lcov")
    assert totals(doc) == (0.0, None, 1, 0, 0, 0)


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        ("SF:a\nDA:1,1\n", "truncated", 1),
        ("DA:1,1\n", "outside an SF: record", 1),
        ("SF:a\nDA:1\nend_of_record\n", "fewer than 2 fields", 2),
        ("SF:a\nDA:x,1\nend_of_record\n", "not a count", 2),
        ("SF:a\nBRDA:1,0,1\nend_of_record\n", "fewer than 4 fields", 2),
        ("SF:a\nSF:b\n", "starts before", 2),
        ("SF:\nend_of_record\n", "without a file name", 1),
        ("TN:\nend_of_record\n", "outside a record", 2),
        ("TN:x\n", "no SF: record", None),
        ("SF:a\nhello world\nend_of_record\n", "not an lcov record", 2),
    ],
)
def test_malformed_lcov(artifact_file: Write, text: str, problem: str, line: int | None) -> None:
    with pytest.raises(ArtifactError) as caught:
        lcov(artifact_file, text)
    assert caught.value.file == "lcov.info"
    assert problem in caught.value.message
    assert caught.value.line == line


def test_text_suffixes_are_artifacts_only_when_claimed(artifact_file: Write) -> None:
    # .info is also GNU Info documentation: not lcov content, not an artifact at all.
    assert (
        detected(artifact_file("manual.info", "This is manual.info, produced by makeinfo")) is None
    )
    assert detected(artifact_file("empty.lcov", "")) is None
    assert detected(artifact_file("coverage.lcov", "SF:a\nend_of_record\n")) == "lcov"
    # lcov content under another name is not guessed.
    assert detected(artifact_file("coverage.txt", "SF:a\nend_of_record\n")) is None


# --------------------------------------------------------------------------- combining


def test_two_reports_combine_and_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    release = tmp_path / "release"
    release.mkdir()
    for name in ("lcov.info", "coveragepy-gold-y_xml_branch.cobertura.xml"):
        (release / name).write_bytes((FIXTURES / "coverage" / name).read_bytes())
    store = ArtifactStore([release])
    (combined,) = store.select(InputSpec(kind="coverage")).artifacts
    # 22 + 5 lines, 20 + 4 covered; 8 + 2 branches, 6 + 1 covered.
    assert totals(combined.document) == (0.888889, 0.7, 27, 24, 10, 7)
    assert {f["source"] for f in combined.document["files"]} == {
        "release/lcov.info",
        "release/coveragepy-gold-y_xml_branch.cobertura.xml",
    }
    report = gate(
        tmp_path,
        """\
        apiVersion: compliancegate/v1
        kind: Policy
        id: coverage-90
        title: Line coverage is at least 90%
        controls: [nist-800-53-r5:SA-11]
        severity: moderate
        enforcement: block
        input: coverage
        rule: {path: line_rate, op: gte, value: 0.9}
        message: "line coverage {item.line_rate}"
        """,
        [release],
    )
    (result,) = report.results
    assert result.status is Status.FAIL
    assert report.decision is Decision.BLOCKED
    assert [v.message for v in result.violations] == ["line coverage 0.888889"]


# --------------------------------------------------------------------------- hostile input

CORPUS = sorted((FIXTURES / "coverage").iterdir())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048), name=st.sampled_from(["coverage.xml", "lcov.info"]))
def test_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes, name: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    read_hostile(path, "lcov" if name.endswith(".info") else "cobertura")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_reports(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(CORPUS))
    path = tmp_path_factory.mktemp("fuzz") / original.name
    path.write_bytes(data.draw(mutated(original.read_bytes())))
    read_hostile(path, "lcov" if original.suffix == ".info" else "cobertura")


@settings(max_examples=100, deadline=None)
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(["SF:", "DA:", "BRDA:", "LF:", "LH:", "BRF:", "BRH:", "TN:", "FN:"]),
            st.text(alphabet="0123456789,-ab", max_size=12),
        ),
        max_size=30,
    ),
    ends=st.booleans(),
)
def test_arbitrary_lcov_records(
    tmp_path_factory: pytest.TempPathFactory, records: list[tuple[str, str]], ends: bool
) -> None:
    text = "\n".join(key + value for key, value in records) + ("\nend_of_record\n" if ends else "")
    path = tmp_path_factory.mktemp("fuzz") / "lcov.info"
    path.write_text(text, encoding="utf-8")
    read_hostile(path, "lcov")
