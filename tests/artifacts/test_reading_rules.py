"""What is read and what is refused (issue 8, classes 2 to 4).

- Only regular files inside the release are read: a FIFO, a device, a symbolic link leading
  out of the release and a file over the size limit are errors, naming the file, for every
  policy that could have read them; never skipped, never a hang.
- JSON with a repeated key or a ``NaN``/``Infinity`` literal is refused, naming the line.
- A SARIF run that says its analysis did not complete, with no results, is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts.registry import formats_for, get_format
from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import InputSpec

HANG_SECONDS = 30

SARIF: dict[str, Any] = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {"driver": {"name": "scanner"}},
            "results": [{"ruleId": "R1", "level": "error", "message": {"text": "bad"}}],
        }
    ],
}


def _errors(store: ArtifactStore, kind: str) -> list[str]:
    return [str(e) for e in store.select(InputSpec(kind=kind)).errors]


# ------------------------------------------------------------------ FIFOs and devices


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes; detection, selection and
    parse must refuse it from its type instead. Run in a child process, so that a
    regression fails by timeout instead of hanging the test run."""
    release = tmp_path / "release"
    release.mkdir()
    (release / "scan.sarif").write_text(json.dumps(SARIF), encoding="utf-8")
    for name in ("pipe.sarif", "pipe"):
        os.mkfifo(release / name)
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from compliancegate.artifacts.selection import ArtifactStore
        from compliancegate.model import InputSpec
        store = ArtifactStore([Path(sys.argv[1])])
        for kind in ("findings", "json", "sbom", "tests"):
            selection = store.select(InputSpec(kind=kind))
            print(kind, len(selection.artifacts), sorted(e.file for e in selection.errors))
            for error in selection.errors:
                print(" ", error.message)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(release)],
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=True,
    )
    lines = done.stdout.splitlines()
    pipe = str(release / "pipe")
    # A FIFO named .sarif could be the findings; an unnamed one could be anything JSON or
    # XML; neither can be a policy's evidence for sbom by name .sarif.
    assert f"findings 1 ['{pipe}', '{pipe}.sarif']" in lines
    assert f"json 1 ['{pipe}', '{pipe}.sarif']" in lines
    assert f"sbom 0 ['{pipe}', '{pipe}.sarif']" in lines
    assert f"tests 0 ['{pipe}']" in lines
    assert "  is a FIFO (named pipe); only regular files are read as artifacts" in lines


def test_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    """``/dev/zero`` never ends and ``/dev/stdin`` may block: given as a path, refused from
    its type."""
    script = textwrap.dedent(
        """
        from pathlib import Path
        from compliancegate.artifacts.source import Source
        from compliancegate.errors import ArtifactError
        for name in ("/dev/zero", "/dev/null"):
            try:
                Source(Path(name), name).data
            except ArtifactError as exc:
                print(exc.file, exc.message)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "/dev/zero is a character device; only regular files are read as artifacts",
        "/dev/null is a character device; only regular files are read as artifacts",
    ]


def test_a_fifo_evidence_target_is_refused_without_blocking(tmp_path: Path) -> None:
    from compliancegate.artifacts.digests import NotRegular, sha256_file

    os.mkfifo(tmp_path / "report.pdf")
    with pytest.raises(NotRegular):
        sha256_file(tmp_path / "report.pdf", 1000)


# ------------------------------------------------------------------ symbolic links


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.sarif").write_text(json.dumps(SARIF), encoding="utf-8")
    (folder / "secret.txt").write_text("S3CRET-VALUE", encoding="utf-8")
    return folder


def test_a_link_out_of_the_release_is_refused(tmp_path: Path, outside: Path) -> None:
    release = tmp_path / "release"
    release.mkdir()
    (release / "scan.sarif").symlink_to(outside / "secret.sarif")
    (release / "notes").symlink_to(outside / "secret.txt")
    (release / "more").symlink_to(outside)  # a folder
    store = ArtifactStore([release])
    for kind in ("findings", "json", "sarif"):
        selection = store.select(InputSpec(kind=kind))
        assert selection.artifacts == ()
        assert sorted(e.file for e in selection.errors) == [
            str(release / "more"),
            str(release / "notes"),
            str(release / "scan.sarif"),
        ]
        for error in selection.errors:
            assert "symbolic link leading out of the release" in error.message
            assert "S3CRET" not in str(error)
    glob = store.select(InputSpec(glob="**/notes", format="json"))
    assert [e.file for e in glob.errors] == [str(release / "notes")]


def test_a_file_given_as_a_link_out_of_its_folder_is_refused(tmp_path: Path, outside: Path) -> None:
    release = tmp_path / "release"
    release.mkdir()
    (release / "scan.sarif").symlink_to(outside / "secret.sarif")
    store = ArtifactStore([release / "scan.sarif"])
    (error,) = store.select(InputSpec(kind="findings")).errors
    assert "leading out of the release" in error.message


def test_links_inside_the_release_are_read_once(tmp_path: Path) -> None:
    release = tmp_path / "release"
    (release / "reports").mkdir(parents=True)
    (release / "reports/scan.sarif").write_text(json.dumps(SARIF), encoding="utf-8")
    (release / "latest.sarif").symlink_to(release / "reports/scan.sarif")
    (release / "all").symlink_to(release / "reports")
    store = ArtifactStore([release])
    selection = store.select(InputSpec(kind="findings"))
    assert selection.errors == ()
    assert len(selection.artifacts) == 1
    assert len(selection.artifacts[0].document["findings"]) == 1


# ------------------------------------------------------------------ size limit


@pytest.mark.parametrize("limit_offset", [-1, 0, 1])
def test_size_limit_for_a_kind(tmp_path: Path, limit_offset: int) -> None:
    """A report over the limit is an error for its kind's policies (it cannot be typed
    without reading it), one at the limit is read."""
    release = tmp_path / "release"
    release.mkdir()
    data = json.dumps(SARIF).encode()
    (release / "scan.sarif").write_bytes(data)
    store = ArtifactStore([release], max_bytes=len(data) + limit_offset)
    selection = store.select(InputSpec(kind="findings"))
    if limit_offset >= 0:
        assert len(selection.artifacts) == 1
        assert selection.errors == ()
    else:
        assert selection.artifacts == ()
        (error,) = selection.errors
        assert error.file == str(release / "scan.sarif")
        assert "artifact limit" in error.message
        # A file whose suffix says it cannot be of a kind is not an error for that kind.
        assert store.select(InputSpec(kind="tests")).errors == ()


def test_a_large_binary_is_not_an_artifact_but_a_large_report_is_an_error(tmp_path: Path) -> None:
    """Release folders hold binaries and tarballs larger than the limit: their first bytes
    say they are not JSON or XML, so they are not read and not an error. A file whose first
    bytes say JSON, over the limit, cannot be typed: an error for every kind of its syntax."""
    release = tmp_path / "release"
    release.mkdir()
    (release / "app").write_bytes(b"\x7fELF" + b"\x00" * 5000)
    (release / "image.tar").write_bytes(b"layer/" + b"\x00" * 5000)
    (release / "report").write_bytes(b'{"version": "2.1.0", "runs": []}' + b" " * 5000)
    store = ArtifactStore([release], max_bytes=1000)
    for kind in ("findings", "sbom", "json", "tests"):
        errors = store.select(InputSpec(kind=kind)).errors
        assert [e.file for e in errors] == [str(release / "report")]
        assert "1,000-byte artifact limit" in errors[0].message


# ------------------------------------------------------------------ strict JSON


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('{"a": 1, "a": 2}', 1, 'duplicate key "a"'),
        ('{\n "Results": [\n  {"Severity": "CRITICAL",\n   "Severity": "LOW"}]}', 3, "Severity"),
        ('[1, 2, {"x": {"y": 1,\n"y": 1}}]', 1, 'duplicate key "y"'),
        ('{"a": NaN}', 1, "NaN is not a JSON value"),
        ('{"a": "NaN",\n "b": Infinity}', 2, "Infinity is not a JSON value"),
        ('{"a": [\n\n -Infinity]}', 3, "-Infinity is not a JSON value"),
        ('{"cvss": 1e400}', 1, "too large"),
        ('{"cvss": "1e400",\n "score": -2.5E+999}', 2, "too large"),
    ],
)
def test_json_that_a_gate_cannot_trust_is_refused(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "report.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ArtifactError) as caught:
        Source(path, "report.json").json  # noqa: B018
    assert caught.value.file == "report.json"
    assert caught.value.line == line
    assert words in caught.value.message


def test_a_hidden_critical_in_a_trivy_report_is_an_error(tmp_path: Path) -> None:
    report = (
        '{"SchemaVersion": 2, "ArtifactName": "app", "Results": [{"Target": "x", '
        '"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "p", '
        '"Severity": "CRITICAL", "Severity": "LOW"}]}]}'
    )
    path = tmp_path / "trivy.json"
    path.write_text(report, encoding="utf-8")
    store = ArtifactStore([tmp_path])
    selection = store.select(InputSpec(kind="vulnerabilities"))
    assert selection.artifacts == ()
    (error,) = selection.errors
    assert 'duplicate key "Severity"' in error.message


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    document=st.dictionaries(st.text(max_size=4), _JSON_VALUES, min_size=1, max_size=4),
    data=st.data(),
)
def test_a_repeated_key_anywhere_is_refused(
    tmp_path: Path, document: dict[str, Any], data: Any
) -> None:
    """Any object of any document, with one of its keys written twice, is refused."""
    key = data.draw(st.sampled_from(sorted(document)))
    text = json.dumps(document)
    repeated = "{" + json.dumps(key) + ": " + json.dumps(document[key]) + ", " + text[1:]
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"wrapper": [json.loads(text)]})[:-2] + "]}", encoding="utf-8")
    assert Source(path, "doc.json").json == {"wrapper": [document]}
    path.write_text('{"wrapper": [' + repeated + "]}", encoding="utf-8")
    with pytest.raises(ArtifactError) as caught:
        Source(path, "doc.json").json  # noqa: B018
    assert "duplicate key" in caught.value.message


def test_strict_json_costs_little() -> None:
    """The duplicate-key check must not make reading a large SBOM much slower."""
    import time

    from compliancegate.artifacts import strict_json

    text = json.dumps(
        {"components": [{"name": f"c{i}", "version": "1.0", "purl": "p"} for i in range(50_000)]}
    )
    best_plain = best_strict = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        json.loads(text)
        best_plain = min(best_plain, time.perf_counter() - started)
        started = time.perf_counter()
        strict_json.loads(text)
        best_strict = min(best_strict, time.perf_counter() - started)
    assert best_strict < 4 * best_plain + 0.05


def test_json_lines_errors_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "prov.intoto.jsonl"
    path.write_text('{"_type": "x"}\n{"a": 1, "a": 2}\n', encoding="utf-8")
    fmt = get_format("provenance")
    assert fmt is not None
    with pytest.raises(ArtifactError) as caught:
        fmt.parse(Source(path, "prov.intoto.jsonl"))
    assert caught.value.line == 2
    assert "duplicate key" in caught.value.message


def test_a_lone_surrogate_is_read_and_printable(tmp_path: Path) -> None:
    """A lone surrogate (valid JSON escape, not valid Unicode) reads as the producer wrote
    it and never crashes a normalizer; ``parse`` prints it escaped."""
    report = {
        "SchemaVersion": 2,
        "ArtifactName": "app",
        "Results": [
            {
                "Target": "x\udcff",
                "Vulnerabilities": [
                    {"VulnerabilityID": "CVE-1\ud800", "PkgName": "p", "Severity": "HIGH"}
                ],
            }
        ],
    }
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    source = Source(path, "trivy.json")
    (fmt,) = formats_for(source)
    (artifact,) = fmt.parse(source)
    (item,) = artifact.document["vulnerabilities"]
    assert item["id"] == "CVE-1\ud800"
    assert "\\ud800" in json.dumps(artifact.document)


# ------------------------------------------------------------------ analyses that did not run


def _sarif_run(**run: Any) -> dict[str, Any]:
    return {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Bandit"}}, **run}]}


@pytest.mark.parametrize(
    ("log", "words"),
    [
        (_sarif_run(invocations=[{"executionSuccessful": False}], results=[]), "did not complete"),
        (_sarif_run(invocations=[{"executionSuccessful": False}]), "executionSuccessful is false"),
        (
            _sarif_run(
                invocations=[
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [
                            {"level": "error", "message": {"text": "syntax error in app.py"}}
                        ],
                    }
                ],
                results=[],
            ),
            "syntax error in app.py",
        ),
    ],
)
def test_a_run_that_did_not_complete_is_an_error(
    tmp_path: Path, log: dict[str, Any], words: str
) -> None:
    path = tmp_path / "bandit.sarif"
    path.write_text(json.dumps(log), encoding="utf-8")
    store = ArtifactStore([tmp_path])
    for kind in ("findings", "sarif"):
        (error,) = store.select(InputSpec(kind=kind)).errors
        assert error.file == str(path)
        assert "Bandit did not complete its analysis" in error.message
        assert words in error.message


@pytest.mark.parametrize(
    ("log", "words"),
    [
        ({"version": "2.1.0", "runs": []}, "runs is empty"),
        (_sarif_run(), "runs[0].results is absent"),
        (_sarif_run(results=None), "runs[0].results is absent"),
        (_sarif_run(invocations=[{"executionSuccessful": True}]), "results is absent"),
        # Two runs, the second of which produced no results array: the first is no cover.
        (
            {
                "version": "2.1.0",
                "runs": [
                    {"tool": {"driver": {"name": "Bandit"}}, "results": []},
                    {"tool": {"driver": {"name": "Bandit"}}},
                ],
            },
            "runs[1].results is absent",
        ),
    ],
)
def test_a_log_without_an_analysis_is_an_error(
    tmp_path: Path, log: dict[str, Any], words: str
) -> None:
    """SARIF 3.13.4 and 3.14.23: an empty ``runs`` records no analysis, and a run whose
    ``results`` is absent or null did not determine its results (a clean run writes ``[]``)."""
    path = tmp_path / "scan.sarif"
    path.write_text(json.dumps(log), encoding="utf-8")
    store = ArtifactStore([tmp_path])
    for kind in ("findings", "sarif"):
        (error,) = store.select(InputSpec(kind=kind)).errors
        assert error.file == str(path)
        assert words in error.message
        assert "not evidence of a clean scan" in error.message


@pytest.mark.parametrize(
    "run",
    [
        {"invocations": [{"executionSuccessful": True}], "results": []},
        {
            "invocations": [
                {
                    "executionSuccessful": True,
                    "toolExecutionNotifications": [{"level": "warning", "message": {"text": "w"}}],
                }
            ],
            "results": [],
        },
        # Failed, yet with results: the results it has are read (a policy sees them).
        {"invocations": [{"executionSuccessful": False}], "results": SARIF["runs"][0]["results"]},
    ],
)
def test_runs_that_completed_or_have_results_are_read(tmp_path: Path, run: dict[str, Any]) -> None:
    path = tmp_path / "scan.sarif"
    path.write_text(json.dumps(_sarif_run(**run)), encoding="utf-8")
    store = ArtifactStore([tmp_path])
    selection = store.select(InputSpec(kind="findings"))
    assert selection.errors == ()
    assert len(selection.artifacts[0].document["findings"]) == len(run["results"])


def test_a_sniff_that_fails_claims_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A detector crashing on hostile content must not make a report raw: the format claims
    it, and its policies then end in error naming the file."""
    fmt = get_format("sarif")
    assert fmt is not None

    def crash(source: Source) -> bool:
        raise ValueError("hostile")

    monkeypatch.setattr(type(fmt), "sniff", lambda self, source: crash(source))
    path = tmp_path / "scan.json"
    path.write_text('{"a": 1}', encoding="utf-8")
    assert "sarif" in [f.name for f in formats_for(Source(path, "scan.json"))]

    def unreadable(source: Source) -> bool:
        raise source.error("cannot read")

    monkeypatch.setattr(type(fmt), "sniff", lambda self, source: unreadable(source))
    with pytest.raises(ArtifactError):
        formats_for(Source(path, "scan.json"))


# ------------------------------------------------------------------ real producers' output


def test_real_bandit_sarif(tmp_path: Path) -> None:
    """Bandit 1.9.4 writes runs first and version and $schema last."""
    from artifact_corpus import document, fixture

    data = fixture("sarif/bandit-1.9.4-sample.sarif").read_bytes()
    assert data.index(b'"version": "2.1.0"') > data.index(b'"results"')
    findings = document("sarif/bandit-1.9.4-sample.sarif", "sarif")["findings"]
    assert {f["rule_id"] for f in findings} == {"B404", "B602"}


def test_real_bandit_run_that_parsed_nothing_is_an_error() -> None:
    """Bandit exits 0 with no results when no file could be parsed, saying so only in an
    error-level configuration notification: that is not a clean scan."""
    from artifact_corpus import fixture

    path = fixture("sarif/bandit-1.9.4-unparsable-only.sarif")
    store = ArtifactStore([path])
    (error,) = store.select(InputSpec(kind="findings")).errors
    assert "Bandit did not complete its analysis" in error.message
    assert "syntax error while parsing AST from file" in error.message


def test_real_cyclonedx_py_bom() -> None:
    """cyclonedx-py 7.5 writes bomFormat and specVersion after the components."""
    from artifact_corpus import document, fixture

    data = fixture("sbom/cyclonedx-py-7.5.0-environment.cdx.json").read_bytes()
    assert data.index(b'"bomFormat"') > data.index(b'"components"')
    sbom = document("sbom/cyclonedx-py-7.5.0-environment.cdx.json", "cyclonedx")
    assert len(sbom["components"]) == 47
    assert {"bandit", "coverage"} <= {c["name"] for c in sbom["components"]}
