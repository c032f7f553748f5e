"""JUnit XML: every corpus report (pytest, Surefire, jest-junit, go-junit-report, gotestsum,
Trivy's template) normalized with concrete values, statuses and counts computed from the
cases, detection, locations reaching violations, and hostile input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_corpus import (
    ENTITY_BOMB,
    EXTERNAL_ENTITY,
    FIXTURES,
    detected,
    document,
    gate,
    mutated,
    parse,
    read_hostile,
)

from compliancegate.errors import ArtifactError
from compliancegate.model import Decision, Status

Write = Callable[[str, "str | bytes"], Path]


def counts(doc: dict[str, Any]) -> tuple[int, int, int, int, int]:
    return doc["tests"], doc["passed"], doc["failures"], doc["errors"], doc["skipped"]


def named(doc: dict[str, Any], status: str) -> list[str]:
    return [c["name"] for c in doc["cases"] if c["status"] == status]


def case(doc: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    found = [c for c in doc["cases"] if c["name"] == name and fields.items() <= c.items()]
    assert len(found) == 1, (name, fields)
    result: dict[str, Any] = found[0]
    return result


# --------------------------------------------------------------------------- the corpus


def test_go_junit_report() -> None:
    doc = document("junit/go-junit-report-001.xml", "junit")
    assert counts(doc) == (5, 2, 1, 0, 2)
    assert named(doc, "failed") == ["TestOne"]
    assert named(doc, "skipped") == ["TestSkip", "TestSkipNow"]
    one = case(doc, "TestOne")
    assert one["suite"] == "package/fail"
    assert one["classname"] == "package/fail"
    assert one["time"] == pytest.approx(0.151)
    assert one["message"] == "Failed"
    assert one["source"] == "junit/go-junit-report-001.xml"
    # Go's "fail_test.go:6:" is relative to the package folder, not a repository path.
    assert (one["file"], one["line"]) == (None, None)


def test_gotestsum_counts_come_from_the_cases_not_the_attributes() -> None:
    doc = document("junit/gotestsum-junitxml-report.xml", "junit")
    # The root says tests="59" errors="1"; there are 60 <testcase> elements and no <error>.
    assert counts(doc) == (60, 42, 13, 0, 5)
    failed = named(doc, "failed")
    assert "TestNestedParallelFailures/a" in failed
    assert "TestFailedWithStderr" in failed
    main = case(doc, "TestMain")
    assert main["suite"] == "gotest.tools/gotestsum/testjson/internal/badmain"
    assert main["classname"] is None  # classname=""
    assert main["status"] == "failed"
    timeout = case(doc, "TestTimeout")
    assert timeout["status"] == "skipped"
    assert "skipping slow test" in timeout["message"]
    assert case(doc, "TestParallelTheFirst", status="failed")["time"] == pytest.approx(0.01)


def test_jest_junit() -> None:
    doc = document("junit/jest-junit.xml", "junit")
    assert counts(doc) == (6, 1, 4, 0, 1)
    failing = case(doc, "Failing test")
    assert failing["suite"] == "__tests__\\main.test.js"
    assert failing["classname"] == "Test 1 › Test 1.1"
    # No message attribute: the first line of the failure text.
    assert failing["message"] == "Error: expect(received).toBeTruthy()"
    skipped = case(doc, "Skipped test")
    assert (skipped["status"], skipped["message"], skipped["suite"]) == (
        "skipped",
        None,
        "__tests__\\second.test.js",
    )
    assert named(doc, "passed") == ["Passing test"]


def test_pytest_with_failure_locations() -> None:
    doc = document("junit/pytest.xml", "junit")
    assert counts(doc) == (10, 6, 2, 0, 2)
    assert named(doc, "failed") == ["test_always_fail", "test_error"]
    fail = case(doc, "test_always_fail")
    assert (fail["file"], fail["line"], fail["message"]) == (
        "tests/test_lib.py",
        25,
        "assert False",
    )
    assert case(doc, "test_error")["line"] == 32
    xfail = case(doc, "test_expected_failure")
    assert (xfail["status"], xfail["type"], xfail["message"]) == ("skipped", "pytest.xfail", None)
    skip = case(doc, "test_always_skip")
    assert skip["message"] == "skipped"
    # The skip text names an absolute path on the machine that ran the tests: not used.
    assert skip["file"] is None
    assert case(doc, "test_with_record_xml_attribute")["classname"] == "custom_classname"
    assert {c["suite"] for c in doc["cases"]} == {"pytest"}


def test_surefire_flaky_test_passes_and_is_marked() -> None:
    doc = document("junit/surefire-TEST-io.olamy.FlakyTest.xml", "junit")
    # The attributes say tests="3" failures="2": one test, failed twice, passed on rerun.
    assert counts(doc) == (1, 1, 0, 0, 0)
    (only,) = doc["cases"]
    assert only["name"] == "testApp"
    assert only["suite"] == "io.olamy.FlakyTest"
    assert only["status"] == "passed"
    assert only["flaky"] is True
    assert only["message"] is None


def test_trivy_template_with_empty_times() -> None:
    doc = document("junit/trivy-alpine-310.junit.xml", "junit")
    assert counts(doc) == (4, 0, 4, 0, 0)
    assert named(doc, "failed") == ["[MEDIUM] CVE-2019-1549", "[MEDIUM] CVE-2019-1551"] * 2
    first = doc["cases"][0]
    assert first["time"] is None  # time=""
    assert first["classname"] == "libcrypto1.1-1.1.1c-r0"
    assert first["message"] == "openssl: information disclosure in fork()"
    assert first["type"] == "description"
    assert first["suite"] == "testdata/fixtures/images/alpine-310.tar.gz (alpine 3.10.2)"


@pytest.mark.parametrize("path", sorted((FIXTURES / "junit").iterdir()), ids=lambda p: p.name)
def test_every_corpus_report_is_detected_as_junit(path: Path) -> None:
    assert detected(path) == "junit"
    (artifact,) = parse(path, "junit")
    doc = artifact.document
    assert doc["tests"] == len(doc["cases"]) > 0
    assert doc["tests"] == doc["passed"] + doc["failures"] + doc["errors"] + doc["skipped"]
    for item in doc["cases"]:
        assert item["status"] in ("passed", "failed", "error", "skipped")
        assert item["source"] == path.name


# --------------------------------------------------------------------------- dialects


def write_report(artifact_file: Write, body: str, name: str = "report.xml") -> dict[str, Any]:
    (artifact,) = parse(artifact_file(name, body), "junit")
    doc: dict[str, Any] = artifact.document
    return doc


def test_nested_suites_name_the_innermost(artifact_file: Write) -> None:
    doc = write_report(
        artifact_file,
        """<testsuites name="all">
             <testcase name="loose"/>
             <testsuite name="outer">
               <testcase name="a"/>
               <testsuite name="inner"><testcase name="b"><error message="boom"/></testcase>
                 <testsuite><testcase name="c"/></testsuite>
               </testsuite>
               <!-- a comment --><?pi x?>
               <testcase name="d"><skipped/></testcase>
             </testsuite>
           </testsuites>""",
    )
    assert [(c["name"], c["suite"], c["status"]) for c in doc["cases"]] == [
        ("loose", None, "passed"),
        ("a", "outer", "passed"),
        ("b", "inner", "error"),
        ("c", "inner", "passed"),  # a nameless suite keeps its parent's name
        ("d", "outer", "skipped"),
    ]
    assert counts(doc) == (5, 3, 0, 1, 1)
    assert case(doc, "b")["message"] == "boom"


def test_reruns_that_kept_failing_fail(artifact_file: Write) -> None:
    doc = write_report(
        artifact_file,
        """<testsuite name="s">
             <testcase name="still-failing">
               <failure message="first"/><rerunFailure message="again"/>
             </testcase>
             <testcase name="rerun-only"><rerunError message="again"/></testcase>
             <testcase name="flaky-error"><flakyError message="once"/></testcase>
             <testcase name="failure-and-error"><error/><failure message="f"/></testcase>
           </testsuite>""",
    )
    assert [(c["name"], c["status"], c["flaky"]) for c in doc["cases"]] == [
        ("still-failing", "failed", False),
        ("rerun-only", "failed", False),
        ("flaky-error", "passed", True),
        ("failure-and-error", "failed", False),
    ]
    assert case(doc, "still-failing")["message"] == "first"


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("1.5", 1.5),
        ("", None),
        ("  ", None),
        ("1,234.5", 1234.5),  # Surefire before 3.0
        ("0,5", None),  # a decimal comma is ambiguous
        ("abc", None),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("1e3", 1000.0),
    ],
)
def test_times(artifact_file: Write, time: str, expected: float | None) -> None:
    doc = write_report(artifact_file, f'<testsuite><testcase name="t" time="{time}"/></testsuite>')
    assert doc["cases"][0]["time"] == expected


def test_file_and_line_attributes_win(artifact_file: Write) -> None:
    doc = write_report(
        artifact_file,
        """<testsuite>
             <testcase name="a" file="tests/test_a.py" line="7">
               <failure>tests/other.py:9: AssertionError</failure></testcase>
             <testcase name="b" file="src/b.test.ts"/>
             <testcase name="c" line="x"><failure>boom</failure></testcase>
             <testcase name="d"><failure>/abs/path/test_d.py:3: AssertionError</failure></testcase>
           </testsuite>""",
    )
    located = [(c["name"], c["file"], c["line"]) for c in doc["cases"]]
    assert located == [
        ("a", "tests/test_a.py", 7),
        ("b", "src/b.test.ts", None),
        ("c", None, None),
        ("d", None, None),
    ]


def test_namespaced_root_and_bom(artifact_file: Write) -> None:
    body = (
        '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n'
        '<j:testsuites xmlns:j="urn:junit"><j:testsuite name="s">'
        '<j:testcase name="t"><j:failure message="m"/></j:testcase>'
        "</j:testsuite></j:testsuites>"
    )
    path = artifact_file("TEST-x.xml", body)
    assert detected(path) == "junit"
    (artifact,) = parse(path, "junit")
    assert named(artifact.document, "failed") == ["t"]


def test_empty_suite_has_no_tests(artifact_file: Write) -> None:
    doc = write_report(artifact_file, '<testsuite tests="12" failures="0"/>')
    assert counts(doc) == (0, 0, 0, 0, 0)
    assert doc["cases"] == []


def test_other_xml_is_not_junit(artifact_file: Write) -> None:
    path = artifact_file("coverage.xml", '<coverage line-rate="1"><packages/></coverage>')
    assert detected(path) == "cobertura"
    other = artifact_file("pom.xml", "<project><testsuite/></project>")
    assert detected(other) == "xml"
    with pytest.raises(ArtifactError) as caught:
        parse(other, "junit")
    assert caught.value.file == "pom.xml"
    assert "<project>" in caught.value.message


def test_detected_by_content_without_a_suffix(artifact_file: Write) -> None:
    path = artifact_file("results", "<?xml version='1.0'?>\n<!-- made by ant -->\n<testsuite/>")
    assert detected(path) == "junit"


# --------------------------------------------------------------------------- through a gate

ALL_PASSED = """\
apiVersion: compliancegate/v1
kind: Policy
id: tests-passed
title: All tests passed
controls: [nist-800-53-r5:SA-11]
severity: high
enforcement: block
input: tests
rule:
  for_each: cases
  assert: {path: status, op: not_in, value: [failed, error]}
message: "{item.name} {item.status}"
"""


def test_failures_reach_violations_with_their_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    release = tmp_path / "release"
    release.mkdir()
    for name in ("pytest.xml", "go-junit-report-001.xml"):
        (release / name).write_bytes((FIXTURES / "junit" / name).read_bytes())
    report = gate(tmp_path, ALL_PASSED, [release])
    (result,) = report.results
    assert result.status is Status.FAIL
    assert report.decision is Decision.BLOCKED
    where = {v.message: (v.location.file, v.location.line) for v in result.violations}
    assert where == {
        "test_always_fail failed": ("tests/test_lib.py", 25),
        "test_error failed": ("tests/test_lib.py", 32),
        "TestOne failed": ("release/go-junit-report-001.xml", None),
    }


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("root", ["testsuites", "testsuite"])
@pytest.mark.parametrize("template", [ENTITY_BOMB, EXTERNAL_ENTITY], ids=["bomb", "xxe"])
def test_entity_declarations_are_refused(artifact_file: Write, root: str, template: str) -> None:
    path = artifact_file("evil.xml", template.format(root=root))
    with pytest.raises(ArtifactError) as caught:
        parse(path, "junit")
    assert caught.value.file == "evil.xml"
    assert "hostile" in caught.value.message


def test_unknown_declared_encoding_is_an_error(artifact_file: Write) -> None:
    # Found by the mutation test below: ElementTree raises LookupError for the codec name.
    path = artifact_file("t.xml", '<?xml version="1.0" encoding="TF-8"?><testsuite/>')
    with pytest.raises(ArtifactError) as caught:
        parse(path, "junit")
    assert "unknown encoding" in caught.value.message


def test_deep_nesting_does_not_exhaust_the_stack(artifact_file: Write) -> None:
    depth = 20_000
    body = "<testsuite>" * depth + '<testcase name="deep"/>' + "</testsuite>" * depth
    doc = write_report(artifact_file, body)
    assert named(doc, "passed") == ["deep"]


CORPUS = sorted((FIXTURES / "junit").iterdir())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "report.xml"
    path.write_bytes(data)
    read_hostile(path, "junit")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_reports(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(CORPUS))
    path = tmp_path_factory.mktemp("fuzz") / original.name
    path.write_bytes(data.draw(mutated(original.read_bytes())))
    read_hostile(path, "junit")
