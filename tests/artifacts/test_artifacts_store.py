"""Discovery, selection and the store that parses each file once."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliancegate.artifacts.registry import get_format
from compliancegate.artifacts.selection import ArtifactStore, discover
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import InputSpec

Write = Callable[[str, "str | bytes"], Path]


@pytest.fixture
def release(tmp_path: Path, artifact_file: Write, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    artifact_file("release/scan.json", '{"a": 1}')
    artifact_file("release/sub/deploy.yml", "kind: Pod\n---\nkind: Service\n")
    artifact_file("release/sub/deep/app.toml", "name = 'x'\n")
    artifact_file("release/tests.xml", "<testsuite tests='1'/>")
    artifact_file("release/report.sarif", '{"runs": []}')
    artifact_file("release/notes.txt", "hello")
    artifact_file("release/.git/config.json", "{}")
    artifact_file("release/node_modules/pkg/package.json", "{}")
    return tmp_path / "release"


def test_discover_walks_sorted_and_skips_tool_folders(release: Path) -> None:
    entries = discover([Path("release")])
    assert [e.display for e in entries] == [
        "release/notes.txt",
        "release/report.sarif",
        "release/scan.json",
        "release/sub/deep/app.toml",
        "release/sub/deploy.yml",
        "release/tests.xml",
    ]
    assert [e.relative for e in entries][3] == "sub/deep/app.toml"


def test_discover_a_file_root_and_dedupes(release: Path) -> None:
    entries = discover([Path("release/scan.json"), Path("release"), Path("release/scan.json")])
    assert [e.display for e in entries].count("release/scan.json") == 1
    single = discover([Path("release/scan.json")])
    assert [(e.relative, e.display) for e in single] == [("scan.json", "release/scan.json")]


def test_discover_missing_root_is_an_artifact_error(release: Path) -> None:
    with pytest.raises(ArtifactError) as caught:
        discover([Path("nope")])
    assert caught.value.file == "nope"


def test_discover_does_not_follow_directory_links(release: Path) -> None:
    os.symlink(release, release / "loop")  # release/loop -> release: would never end
    entries = discover([Path("release")])
    assert not any("loop/" in e.display for e in entries)


def test_dangling_link_is_named_as_found(release: Path) -> None:
    os.symlink(release / "gone.json", release / "link.json")
    store = ArtifactStore([Path("release")])
    spec = InputSpec(glob="link.json")
    selection = store.select(spec)
    assert selection.artifacts == ()
    [error] = selection.errors
    assert error.file == "release/link.json"
    assert "no such file" in error.message


def test_select_by_raw_kind_uses_the_syntax(release: Path) -> None:
    store = ArtifactStore([Path("release")])
    as_json = store.select(InputSpec(kind="json"))
    assert sorted(as_json.files) == ["release/report.sarif", "release/scan.json"]
    as_yaml = store.select(InputSpec(kind="yaml"))
    assert [a.document for a in as_yaml.artifacts] == [{"kind": "Pod"}, {"kind": "Service"}]
    assert [a.index for a in as_yaml.artifacts] == [0, 1]
    assert store.select(InputSpec(kind="toml")).artifacts[0].document == {"name": "x"}
    assert store.select(InputSpec(kind="xml")).artifacts[0].document == {
        "testsuite": {"@tests": "1"}
    }


def test_select_by_glob_matches_relative_and_displayed_paths(release: Path) -> None:
    store = ArtifactStore([Path("release")])
    assert store.select(InputSpec(glob="sub/*.yml")).files == ("release/sub/deploy.yml",)
    assert store.select(InputSpec(glob="release/sub/*.yml")).files == ("release/sub/deploy.yml",)
    assert store.select(InputSpec(glob="*.yml")).files == ()
    assert store.select(InputSpec(glob="**/*.toml")).files == ("release/sub/deep/app.toml",)


def test_glob_on_unknown_format_is_an_error_unless_named(release: Path) -> None:
    store = ArtifactStore([Path("release")])
    selection = store.select(InputSpec(glob="notes.txt"))
    [error] = selection.errors
    assert error.file == "release/notes.txt"
    assert "format is unknown" in error.message
    forced = store.select(InputSpec(glob="notes.txt", format="yaml"))
    assert forced.errors == ()
    assert forced.artifacts[0].document == "hello"


def test_config_forced_formats(release: Path, artifact_file: Write) -> None:
    artifact_file("release/out/result.out", '"ok"')  # JSON, undetectable by content
    plain = ArtifactStore([Path("release")])
    assert plain.select(InputSpec(kind="json")).files == (
        "release/report.sarif",
        "release/scan.json",
    )
    forced = ArtifactStore([Path("release")], forced=[("out/*.out", "json")])
    assert "release/out/result.out" in forced.select(InputSpec(kind="json")).files


def test_each_file_parsed_once_across_selections(release: Path) -> None:
    store = ArtifactStore([Path("release")])
    for _ in range(3):
        store.select(InputSpec(kind="json"))
        store.select(InputSpec(glob="**/scan.json"))
        store.select(InputSpec(glob="**/*.yml"))
        store.select(InputSpec(kind="yaml"))
    assert store.parses == 3  # scan.json, report.sarif, deploy.yml


def test_errors_are_cached_and_parsed_once(release: Path, artifact_file: Write) -> None:
    artifact_file("release/broken.json", '{"a": ')
    store = ArtifactStore([Path("release")])
    first = store.select(InputSpec(glob="broken.json"))
    second = store.select(InputSpec(kind="json"))
    assert [str(e) for e in first.errors] == [str(e) for e in second.errors]
    assert "release/broken.json" in str(first.errors[0])
    assert store.parses == 3  # broken.json once, plus report.sarif and scan.json


def test_size_limit(release: Path, artifact_file: Write) -> None:
    path = artifact_file("release/big.json", '{"pad": "' + "x" * 2000 + '"}')
    source = Source(path, "release/big.json", max_bytes=1000)
    with pytest.raises(ArtifactError) as caught:
        _ = source.json
    assert caught.value.file == "release/big.json"
    assert "1,000-byte artifact limit" in caught.value.message
    assert caught.value.hint and "max_artifact_bytes" in caught.value.hint
    # Detection reads only the head, so it still works on the too-large file.
    store = ArtifactStore([Path("release")], max_bytes=1000)
    selection = store.select(InputSpec(glob="big.json"))
    assert "artifact limit" in str(selection.errors[0])
    # A file at the limit is read.
    exact = artifact_file("release/exact.json", '"' + "x" * 998 + '"')
    assert Source(exact, "exact.json", max_bytes=1000).json == "x" * 998


def test_source_reads_the_file_once(release: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Source(release / "scan.json", "release/scan.json")
    opened: list[int] = []
    original = os.open

    def counting_open(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(1)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    assert source.json == {"a": 1}
    assert source.json == {"a": 1}
    assert source.head.startswith(b"{")
    fmt = get_format("json")
    assert fmt is not None
    fmt.parse(source)
    assert len(opened) == 1


_TRIVY = (
    '{"SchemaVersion": 2, "ArtifactName": "app", "Results": [{"Target": "t", "Class": '
    '"os-pkgs", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "p", '
    '"Severity": "HIGH"}]}]}'
)
_BOM = (
    '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "c"}], '
    '"vulnerabilities": [{"id": "CVE-2", "ratings": [{"severity": "high"}], '
    '"affects": [{"ref": "c"}]}]}'
)


@pytest.mark.parametrize("keep", [True, False])
def test_a_normalized_files_raw_tree_is_freed_only_when_told(
    tmp_path: Path, artifact_file: Write, monkeypatch: pytest.MonkeyPatch, keep: bool
) -> None:
    """``check`` frees a report's raw JSON tree once every format claiming it has read it,
    when no policy reads files raw; a raw read afterwards parses the bytes again, with the
    same result."""
    monkeypatch.chdir(tmp_path)
    artifact_file("release/trivy.json", _TRIVY)
    artifact_file("release/bom.json", _BOM)
    store = ArtifactStore([Path("release")], keep_trees=keep)
    entries = {e.display: e for e in store.files}
    trivy = store.source(entries["release/trivy.json"])
    bom = store.source(entries["release/bom.json"])
    vulnerabilities = store.select(InputSpec(kind="vulnerabilities"))
    assert len(vulnerabilities.artifacts) == 1  # both reports, combined
    assert trivy.json_parsed is keep
    # The BOM's components (format cyclonedx) are not read yet: its tree is kept.
    assert bom.json_parsed
    assert len(store.select(InputSpec(kind="sbom")).artifacts) == 1
    assert bom.json_parsed is keep
    raw = store.select(InputSpec(kind="json"))
    assert sorted(a.document.get("SchemaVersion", 0) for a in raw.artifacts) == [0, 2]
    assert store.select(InputSpec(kind="vulnerabilities")) == vulnerabilities
