"""Kubernetes manifests as the starter policies read them (``input: kubernetes``): YAML and
JSON, single objects and Lists at any size and key order, and Helm chart templates refused
with one message per chart."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.artifacts.source import HEAD_BYTES
from compliancegate.model import InputSpec

REPO = Path(__file__).resolve().parents[2]
K8S_POLICIES = REPO / "policies" / "kubernetes.yaml"
HELM_CHART = REPO / "policies" / "tests" / "testdata" / "helm" / "web"

Write = Callable[[str, "str | bytes"], Path]


def deployment(name: str, container: str = "app", image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}},
    }


def k8s_list(items: list[Any], kind: str = "List") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": ""}, "items": items}


def selected(root: Path) -> tuple[list[Any], list[str]]:
    selection = ArtifactStore([root]).select(InputSpec(kind="kubernetes"))
    return [a.document for a in selection.artifacts], [str(e) for e in selection.errors]


def names(documents: list[Any]) -> list[str]:
    return [f"{d['kind']}/{d['metadata']['name']}" for d in documents]


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


# Sizes below and above the 64 KiB detection head; keys sorted (kind: List after the items,
# as jq -S writes it) or reversed (apiVersion and kind last).
@pytest.mark.parametrize("count", [1, 3, 200, 2_000])
@pytest.mark.parametrize("suffix", ["json", "yaml"])
@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_a_list_of_any_size_and_key_order_is_opened(
    artifact_file: Write, tmp_path: Path, count: int, suffix: str, order: str
) -> None:
    document = k8s_list([deployment(f"d{i}") for i in range(count)])
    if order == "sorted":
        text = json.dumps(document, sort_keys=True, indent=1)
    else:
        text = json.dumps(_reversed_keys(document), indent=1)
    artifact_file(f"deploy/all.{suffix}", text)
    if count == 2_000:
        assert text.index('"kind": "List"') > HEAD_BYTES

    documents, errors = selected(tmp_path)

    assert errors == []
    assert names(documents) == [f"Deployment/d{i}" for i in range(count)]


def test_api_lists_nested_lists_and_odd_items(artifact_file: Write, tmp_path: Path) -> None:
    inner = k8s_list([deployment("inner")], kind="DeploymentList")
    artifact_file(
        "all.yaml",
        json.dumps(k8s_list([deployment("a"), inner, "not an object", None, deployment("b")])),
    )
    documents, errors = selected(tmp_path)
    assert errors == []
    assert documents == [
        deployment("a"),
        deployment("inner"),
        "not an object",
        None,
        deployment("b"),
    ]


def test_a_yaml_stream_mixing_objects_and_lists(artifact_file: Write, tmp_path: Path) -> None:
    artifact_file(
        "deploy.yaml",
        "\n---\n".join(
            json.dumps(d)
            for d in (deployment("one"), k8s_list([deployment("two"), deployment("three")]))
        )
        + "\n---\n",
    )
    documents, _ = selected(tmp_path)
    assert names(documents) == ["Deployment/one", "Deployment/two", "Deployment/three"]


@pytest.mark.parametrize(
    ("name", "content", "claimed"),
    [
        ("deploy.yaml", json.dumps(deployment("x")), True),
        ("deploy.json", json.dumps(deployment("x")), True),
        ("patch.yaml", "kind: Deployment\nmetadata: {name: x}\n", True),  # Kustomize patch
        ("broken.yaml", "kind: Deployment\n  bad: [\n", True),  # fail closed
        ("truncated.json", '{"apiVersion": "apps/v1", "kind": "Deploy', True),  # fail closed
        ("escaped.json", '{"apiVersion": "v1", "\\u006bind": "Pod", "metadata": {}}', True),
        ("no-kind.json", json.dumps({"apiVersion": "v1", "metadata": {"name": "x"}}), False),
        (".github/workflows/ci.yml", "name: ci\non: push\njobs: {}\n", False),
        ("sbom.json", json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5"}), False),
        ("broken-report.json", '{"runs": [', False),
        ("config.yaml", "kind: 3\napiVersion: 2\n", False),
    ],
)
def test_which_files_the_kubernetes_policies_read(
    artifact_file: Write, name: str, content: str, claimed: bool
) -> None:
    path = artifact_file(name, content)
    store = ArtifactStore([path.parent])
    [entry] = [e for e in store.files if e.path == path]
    assert (store.format_for(entry, "kubernetes") is not None) is claimed


def test_two_workloads_with_the_same_container_name_are_two_violations(
    artifact_file: Write, tmp_path: Path
) -> None:
    artifact_file("all.json", json.dumps(k8s_list([deployment("a"), deployment("b")])))
    report = _check(tmp_path, "--format", "json")
    assert report.returncode == 1, report.stderr
    results = {r["policy"]["id"]: r for r in json.loads(report.stdout)["results"]}
    violations = results["k8s-image-pinned-by-digest"]["violations"]
    assert sorted(v["message"].split(":")[0] for v in violations) == [
        "Deployment a",
        "Deployment b",
    ]
    assert len({v["fingerprint"] for v in violations}) == 2


def _check(root: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "compliancegate", "check", str(root), "--no-ledger"]
    command += ["--config", str(config)] if config else ["--policies", str(K8S_POLICIES)]
    return subprocess.run(
        [*command, *args],
        cwd=root.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COMPLIANCEGATE_NOW": "2026-11-21T12:00:00Z"},
    )


def _release_with_chart(tmp_path: Path) -> Path:
    release = tmp_path / "release"
    shutil.copytree(HELM_CHART, release / "charts" / "web")
    (release / "deploy").mkdir()
    (release / "deploy" / "web.yaml").write_text(json.dumps(deployment("web")))
    return release


def test_a_helm_chart_is_one_clear_error_per_policy(tmp_path: Path) -> None:
    release = _release_with_chart(tmp_path)
    done = _check(release, "--format", "json")

    assert done.returncode == 2, done.stderr
    results = json.loads(done.stdout)["results"]
    assert len(results) == 8
    for result in results:
        assert result["status"] == "error"
        # The three templates (one of them valid YAML) give one message, no parse error.
        assert result["error"].count("Helm chart templates are not manifests") == 1
        assert "release/charts/web/templates/" in result["error"]
        assert "exclude: [web]" in result["error"]
        assert "invalid YAML" not in result["error"]


def test_excluding_the_chart_as_the_message_says_gates_the_rendered_manifest(
    tmp_path: Path,
) -> None:
    release = _release_with_chart(tmp_path)
    config = tmp_path / "compliancegate.yaml"
    config.write_text(
        "apiVersion: compliancegate/v1\nkind: Config\n"
        f"policies: [{K8S_POLICIES}]\npaths: [release]\nexclude: [web]\n",
        encoding="utf-8",
    )
    done = _check(release, config=config)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Helm" not in done.stdout
    assert "Deployment web: container app uses image nginx:1.27" in done.stdout


def test_raw_yaml_policies_get_the_same_helm_message(tmp_path: Path) -> None:
    release = _release_with_chart(tmp_path)
    policy = tmp_path / "policies" / "names.yaml"
    policy.parent.mkdir()
    policy.write_text(
        "apiVersion: compliancegate/v1\nkind: Policy\nid: named\ntitle: Named\n"
        "controls: [x:1]\nseverity: low\nenforcement: block\ninput: yaml\n"
        "rule: {path: metadata.name, op: exists}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "compliancegate",
            "check",
            str(release),
            "--no-ledger",
            "--policies",
            str(policy),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COMPLIANCEGATE_NOW": "2026-11-21T12:00:00Z"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout.count("Helm chart templates are not manifests") == 1
    assert "invalid YAML" not in done.stdout


@pytest.mark.parametrize("where", ["chart", "templates", "outside"])
def test_a_template_given_directly_is_named_wherever_check_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    chart = tmp_path / "web"
    shutil.copytree(HELM_CHART, chart)
    template = chart / "templates" / "tests" / "test-connection.yaml"
    cwd = {"chart": chart, "templates": chart / "templates" / "tests", "outside": tmp_path}[where]
    monkeypatch.chdir(cwd)
    root = Path(os.path.relpath(template, cwd))

    selection = ArtifactStore([root]).select(InputSpec(kind="kubernetes"))

    assert selection.artifacts == ()
    [error] = selection.errors
    assert error.message.startswith("Helm chart templates are not manifests")
    assert error.file is not None and error.file.endswith("templates/")
    assert "exclude: [web]" in str(error)


@pytest.mark.parametrize(
    "content",
    [
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}',
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"',  # truncated
        '{"apiVersion": "v1", "metadata": {"name": "x"',  # truncated, no kind
        '{"apiVersion": "v1", "k\\u0069nd": "Pod"}',
        '{"SchemaVersion": 2, "Results": []}',
        '{"a": 1, "a": 2, "kind": "Pod", "apiVersion": "v1"}',  # refused: a repeated key
        "[1, 2]",
    ],
)
def test_kubernetes_json_detection_is_the_same_whether_or_not_parsed_first(
    tmp_path: Path, content: str
) -> None:
    """Detection reuses a document another format's detection parsed, instead of scanning
    the bytes; the answer is the one it gives on a file nothing parsed yet."""
    from compliancegate.artifacts.kubernetes_json import FORMAT
    from compliancegate.artifacts.source import Source
    from compliancegate.errors import ArtifactError

    path = tmp_path / "doc.json"
    path.write_text(content, encoding="utf-8")
    fresh = FORMAT.sniff(Source(path, "doc.json"))
    parsed = Source(path, "doc.json")
    with contextlib.suppress(ArtifactError):
        parsed.json  # noqa: B018
    assert parsed.json_parsed
    assert FORMAT.sniff(parsed) == fresh
