"""Provenance: in-toto statements (v0.1, v1), SLSA provenance (v0.2, v1), a SLSA verification
summary, DSSE envelopes and a Sigstore bundle from the corpus, JSON Lines, detection, a
digest-matching policy, and hostile input (bad base64, oversized payloads, wrong types)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_corpus import FIXTURES, detected, document, gate, mutated, parse, read_hostile

from compliancegate.artifacts import provenance
from compliancegate.errors import ArtifactError
from compliancegate.model import Decision, Status

Write = Callable[[str, "str | bytes"], Path]

BCR = "provenance/bcr-MODULE.bazel.sigstore-bundle.intoto.jsonl"
SLSA_02 = "provenance/slsa-v0.2-slsa-verifier-linux-amd64.intoto.json"
VSA = "provenance/vsa-v1-gke-gce.dsse.jsonl"


# --------------------------------------------------------------------------- the corpus


def test_sigstore_bundle_with_slsa_v1() -> None:
    doc = document(BCR, "provenance")
    assert doc["statement_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicate_type"] == "https://slsa.dev/provenance/v1"
    assert doc["subjects"] == [
        {
            "name": "MODULE.bazel",
            "digest": {
                "sha256": "06ce330900a7d6403bc8d88e5dfad6aeeb8ae40179f66bb89e69c8bf6f6b1a0b"
            },
            "source": BCR,
            "artifact": None,  # MODULE.bazel does not ship beside the bundle
        }
    ]
    assert doc["builder_id"] == (
        "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml"
        "@refs/tags/v0.0.1"
    )
    assert doc["build_type"] == "https://actions.github.io/buildtypes/workflow/v1"
    assert doc["materials"] == [
        {
            "uri": "git+https://github.com/aspect-build/rules_lint@refs/heads/publish-to-bcr",
            "digest": {"gitCommit": "8f70009fde0c94ade6ce2a054b94718c819126ec"},
        }
    ]
    envelope = doc["envelope"]
    assert envelope["payload_type"] == "application/vnd.in-toto+json"
    assert envelope["bundle_media_type"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    (signature,) = envelope["signatures"]
    assert signature["keyid"] is None
    assert signature["sig"].startswith("MEUCIHaS/Ds8ahUqMfYQSmH1gpZwwv54")
    assert doc["predicate"]["runDetails"]["metadata"]["invocationId"].endswith("/attempts/1")


def test_bare_statement_with_slsa_v0_2() -> None:
    doc = document(SLSA_02, "provenance")
    assert doc["statement_type"] == "https://in-toto.io/Statement/v0.1"
    assert doc["predicate_type"] == "https://slsa.dev/provenance/v0.2"
    (subject,) = doc["subjects"]
    assert subject["name"] == "slsa-verifier-linux-amd64"
    assert subject["digest"] == {
        "sha256": "ad4b408c43504d439827998c27ab4be1c44ff467ccb39b78da01568f8542b10e"
    }
    assert doc["builder_id"] == (
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
        "builder_go_slsa3.yml@refs/tags/v1.2.2"
    )
    assert doc["build_type"] == "https://github.com/slsa-framework/slsa-github-generator/go@v1"
    assert doc["materials"] == [
        {
            "uri": "git+https://github.com/slsa-framework/slsa-verifier@refs/tags/v2.0.1",
            "digest": {"sha1": "a43888265e1f6aae98c924538298944f2721dcf0"},
        },
        {
            "uri": "https://github.com/actions/virtual-environments/releases/tag/ubuntu22/20221204.2",
            "digest": {},
        },
    ]
    assert doc["envelope"] is None


def test_dsse_envelope_with_a_verification_summary() -> None:
    doc = document(VSA, "provenance")
    assert doc["predicate_type"] == "https://slsa.dev/verification_summary/v1"
    assert doc["subjects"][0]["name"] == "_"
    assert doc["subjects"][0]["digest"] == {"gce_image_id": "8970095005306000053"}
    # Not build provenance: no builder, and the predicate tells the verifier's verdict.
    assert (doc["builder_id"], doc["build_type"], doc["materials"]) == (None, None, [])
    assert doc["predicate"]["verificationResult"] == "PASSED"
    assert doc["predicate"]["verifiedLevels"] == ["BCID_L1", "SLSA_BUILD_LEVEL_2"]
    (signature,) = doc["envelope"]["signatures"]
    assert signature["keyid"] == "keystore://76574:prod:vsa_signing_public_key"
    assert doc["envelope"]["bundle_media_type"] is None


@pytest.mark.parametrize("path", sorted((FIXTURES / "provenance").iterdir()), ids=lambda p: p.name)
def test_every_corpus_file_is_detected(path: Path) -> None:
    assert detected(path) == "provenance"


# --------------------------------------------------------------------------- JSON Lines


def statement(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app.tar.gz", "digest": {"sha256": "ab" * 32}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {"buildType": "https://example.com/build/v1"},
            "runDetails": {"builder": {"id": "https://example.com/builder"}},
        },
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def envelope(payload: Any, payload_type: str = "application/vnd.in-toto+json") -> dict[str, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(raw).decode(),
        "signatures": [{"keyid": "k1", "sig": "c2ln"}],
    }


def test_json_lines_give_one_artifact_per_line(artifact_file: Write) -> None:
    lines = [
        (FIXTURES / BCR).read_text().strip(),
        "",
        json.dumps(envelope(statement())),
        (FIXTURES / VSA).read_text().strip(),
    ]
    path = artifact_file("attestations.intoto.jsonl", "\n".join(lines) + "\n")
    artifacts = parse(path, "provenance")
    assert [(a.index, a.line) for a in artifacts] == [(0, 1), (1, 3), (2, 4)]
    assert [a.document["subjects"][0]["name"] for a in artifacts] == [
        "MODULE.bazel",
        "app.tar.gz",
        "_",
    ]
    assert artifacts[1].document["builder_id"] == "https://example.com/builder"


def test_a_bad_line_names_its_line(artifact_file: Write) -> None:
    good = json.dumps(envelope(statement()))
    path = artifact_file("x.intoto.jsonl", f"{good}\n{good[:40]}\n")
    with pytest.raises(ArtifactError) as caught:
        parse(path, "provenance")
    assert (caught.value.file, caught.value.line) == ("x.intoto.jsonl", 2)
    bad_type = artifact_file("y.jsonl", f"{good}\n[1]\n")
    with pytest.raises(ArtifactError) as caught:
        parse(bad_type, "provenance")
    assert caught.value.line == 2
    assert "line 2: expected an in-toto statement" in caught.value.message


def test_json_lines_under_a_json_name(artifact_file: Write) -> None:
    good = json.dumps(envelope(statement()))
    path = artifact_file("two.intoto.json", f"{good}\n{good}\n")
    assert [a.line for a in parse(path, "provenance")] == [1, 2]


def test_pretty_printed_envelope_in_a_jsonl_file_is_an_error(artifact_file: Write) -> None:
    path = artifact_file("pretty.jsonl", json.dumps(envelope(statement()), indent=2))
    with pytest.raises(ArtifactError) as caught:
        parse(path, "provenance")
    assert caught.value.line == 1


# --------------------------------------------------------------------------- envelopes


def test_url_safe_unpadded_payload(artifact_file: Write) -> None:
    payload = json.dumps(statement(subject=[{"name": "é?>>", "digest": {"sha512": "ff"}}]))
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    assert "-" in encoded or "_" in encoded
    env = {"payloadType": "application/vnd.in-toto+json", "payload": encoded, "signatures": []}
    (artifact,) = parse(artifact_file("a.dsse.json", json.dumps(env)), "provenance")
    assert artifact.document["subjects"][0]["name"] == "é?>>"
    assert artifact.document["envelope"]["signatures"] == []


def test_slsa_v0_1_recipe(artifact_file: Write) -> None:
    doc = statement(
        predicateType="https://slsa.dev/provenance/v0.1",
        predicate={"builder": {"id": "b"}, "recipe": {"type": "r"}, "materials": [{"uri": "u"}]},
    )
    (artifact,) = parse(artifact_file("p.json", json.dumps(doc)), "provenance")
    result = artifact.document
    assert (result["builder_id"], result["build_type"]) == ("b", "r")
    assert result["materials"] == [{"uri": "u", "digest": {}}]


def test_scalars_of_the_wrong_type_read_as_null(artifact_file: Write) -> None:
    doc = statement(
        predicateType=7,
        subject=[{"name": 1, "digest": {"sha256": 5, "sha1": "aa"}}],
        predicate={"runDetails": {"builder": {"id": ["x"]}}, "buildDefinition": "nope"},
    )
    (artifact,) = parse(artifact_file("p.json", json.dumps(doc)), "provenance")
    result = artifact.document
    assert result["predicate_type"] is None
    assert result["subjects"][0]["name"] is None
    assert result["subjects"][0]["digest"] == {"sha1": "aa"}
    assert (result["builder_id"], result["build_type"]) == (None, None)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (envelope(statement(), "text/plain"), "does not carry an in-toto statement"),
        ({**envelope(statement()), "payload": "!!!not base64!!!"}, "not valid base64"),
        ({**envelope(statement()), "payload": 12}, "expected base64 text"),
        (envelope(b"\xff\xfe"), "not UTF-8"),
        (envelope(b"{not json"), "invalid JSON in the DSSE payload"),
        (envelope([1, 2]), "DSSE payload is a list"),
        ({**envelope(statement()), "signatures": {}}, "signatures is an object, expected a list"),
        ({**envelope(statement()), "signatures": [1]}, "signatures[0] is a number"),
        (envelope(statement(_type="https://example.com/Statement")), "not an in-toto statement"),
        (statement(subject=None), "has no subject"),
        (statement(subject="app"), "subject is a string, expected a list"),
        (statement(subject=["app"]), "subject[0] is a string"),
        (statement(subject=[{"digest": "ab"}]), "subject[0].digest is a string"),
        (statement(predicate=[1]), "predicate is a list"),
        (
            statement(predicate={"buildDefinition": {"resolvedDependencies": {}}}),
            "resolvedDependencies is an object",
        ),
        (statement(predicate={"materials": [3]}), "predicate.materials[0] is a number"),
        (
            {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "messageSignature": {}},
            "plain message signature",
        ),
        ({"mediaType": "x", "dsseEnvelope": "e"}, "dsseEnvelope is a string"),
        ([statement()], "found a list"),
    ],
)
def test_malformed_attestations(artifact_file: Write, content: Any, problem: str) -> None:
    path = artifact_file("bad.intoto.json", json.dumps(content))
    with pytest.raises(ArtifactError) as caught:
        parse(path, "provenance")
    assert caught.value.file == "bad.intoto.json"
    assert problem in caught.value.message


def test_oversized_payload_refused_before_decoding(
    artifact_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provenance, "MAX_PAYLOAD_BYTES", 1024)
    big = statement(predicate={"padding": "x" * 4096})
    path = artifact_file("big.dsse.json", json.dumps(envelope(big)))
    with pytest.raises(ArtifactError) as caught:
        parse(path, "provenance")
    assert "larger than the 1,024-byte limit" in caught.value.message


def test_deeply_nested_payload(artifact_file: Write) -> None:
    payload = b"[" * 100_000 + b"]" * 100_000
    path = artifact_file("deep.dsse.json", json.dumps(envelope(payload)))
    with pytest.raises(ArtifactError) as caught:
        parse(path, "provenance")
    assert "nesting too deep" in caught.value.message


# --------------------------------------------------------------------------- detection


def test_detection_needs_in_toto_markers(artifact_file: Write) -> None:
    assert detected(artifact_file("a.json", json.dumps(statement()))) == "provenance"
    assert detected(artifact_file("b.json", json.dumps(envelope(statement())))) == "provenance"
    assert (
        detected(
            artifact_file(
                "c.json", '{"note": "see \\"_type\\": \\"https://in-toto.io/Statement/v1\\""}'
            )
        )
        == "json"
    )
    other_dsse = envelope(statement(), "application/vnd.cncf.notary.payload.v1+json")
    assert detected(artifact_file("d.json", json.dumps(other_dsse))) == "json"
    # A .jsonl file that is not an attestation is plain JSON (and fails as such if read).
    assert detected(artifact_file("events.jsonl", '{"a": 1}\n{"a": 2}\n')) == "json"
    assert detected(FIXTURES / "vulns" / "trivy-pip.json") == "trivy"


# --------------------------------------------------------------------------- through a gate

SUBJECT_MATCHES = """\
apiVersion: compliancegate/v1
kind: Policy
id: provenance-subject-matches
title: The released artifact's digest is the one the provenance attests
controls: [nist-800-53-r5:SR-4]
severity: high
enforcement: block
input: provenance
rule:
  for_each: subjects
  where: {path: name, op: equals, value: slsa-verifier-linux-amd64}
  assert: {path: digest.sha256, op: equals, value: %s}
message: "{item.name} attested as {item.digest.sha256}"
"""


@pytest.mark.parametrize(
    ("digest", "status"),
    [
        ("ad4b408c43504d439827998c27ab4be1c44ff467ccb39b78da01568f8542b10e", Status.PASS),
        ("0" * 64, Status.FAIL),
    ],
)
def test_subject_digest_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, digest: str, status: Status
) -> None:
    monkeypatch.chdir(tmp_path)
    release = tmp_path / "release"
    release.mkdir()
    (release / "slsa.intoto.json").write_bytes((FIXTURES / SLSA_02).read_bytes())
    report = gate(tmp_path, SUBJECT_MATCHES % digest, [release])
    (result,) = report.results
    assert result.status is status
    assert report.decision is (Decision.COMPLIANT if status is Status.PASS else Decision.BLOCKED)


# --------------------------------------------------------------------------- hostile input

CORPUS = sorted((FIXTURES / "provenance").iterdir())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=2048),
    name=st.sampled_from(["a.intoto.jsonl", "a.intoto.json"]),
)
def test_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes, name: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    read_hostile(path, "provenance")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_attestations(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(CORPUS))
    path = tmp_path_factory.mktemp("fuzz") / original.name
    path.write_bytes(data.draw(mutated(original.read_bytes())))
    read_hostile(path, "provenance")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_payloads(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    # Damage inside the base64 payload, which a byte-level mutation of the file rarely
    # reaches intact: the decoded statement must be read defensively too.
    original = json.loads((FIXTURES / VSA).read_text())
    payload = base64.b64decode(original["payload"])
    original["payload"] = base64.b64encode(data.draw(mutated(payload))).decode()
    path = tmp_path_factory.mktemp("fuzz") / "vsa.dsse.jsonl"
    path.write_text(json.dumps(original), encoding="utf-8")
    read_hostile(path, "provenance")


def test_a_subject_shipped_beside_its_provenance_is_checked_against_its_digest(
    tmp_path: Path,
) -> None:
    import hashlib

    from compliancegate.artifacts.selection import ArtifactStore

    released = tmp_path / "app.tar.gz"
    released.write_bytes(b"the released bytes")
    good = hashlib.sha256(b"the released bytes").hexdigest()
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://slsa.dev/provenance/v1",
        "subject": [
            {"name": "dist/app.tar.gz", "digest": {"sha256": good}},
            {"name": "../../etc/passwd", "digest": {"sha256": good}},
            {"name": "elsewhere.bin", "digest": {"sha256": good}},
        ],
        "predicate": {"runDetails": {"builder": {"id": "https://builder.example"}}},
    }
    provenance = tmp_path / "app.intoto.json"
    provenance.write_text(json.dumps(statement))

    judged: dict[str, str] = {}

    def subjects() -> list[Any]:
        store = ArtifactStore([tmp_path])
        entry = next(e for e in store.files if e.path.name == "app.intoto.json")
        (artifact,) = store.artifacts(entry, store.format_for(entry, "provenance"))
        judged.clear()
        judged.update(store.read_digests())
        return [s["artifact"] for s in artifact.document["subjects"]]

    first, outside, absent = subjects()
    # The released file is judged with the provenance: its digest is the run's (a bundle
    # carries it), under the name the report shows.
    assert judged[first["path"]] == good
    assert first is not None
    assert first["digest_matches"] is True
    assert first["path"].endswith("app.tar.gz")
    # Only the name's last part is looked up, beside the provenance: never ../../etc/passwd.
    assert outside is None
    assert absent is None
    released.write_bytes(b"tampered after the build")
    assert subjects()[0]["digest_matches"] is False
