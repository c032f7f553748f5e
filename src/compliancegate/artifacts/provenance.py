"""Build provenance and other in-toto attestations, normalized to the ``provenance`` kind.

Reads, in any combination:

- in-toto Statements v0.1 and v1 (``_type`` ``https://in-toto.io/Statement/...``), bare;
- DSSE envelopes (``payloadType`` ``application/vnd.in-toto+json``, base64 ``payload``),
  whose payload is decoded under a size limit;
- Sigstore bundles (``mediaType`` ``application/vnd.dev.sigstore.bundle...``) carrying a
  ``dsseEnvelope``, as GitHub artifact attestations and ``cosign`` write them;
- JSON Lines files holding one of the above per line (``.intoto.jsonl``): each line is one
  artifact.

Predicates: SLSA provenance v0.1/v0.2 (``builder.id``, ``buildType`` or ``recipe.type``,
``materials``) and v1 (``runDetails.builder.id``, ``buildDefinition.buildType``,
``resolvedDependencies``) fill ``builder_id``, ``build_type`` and ``materials``; any other
predicate (a SLSA verification summary, a vulnerability scan) parses too, with those fields
null, and policies tell them apart by ``predicate_type`` and read ``predicate`` as written.

Signatures are reported, not verified: ``envelope.signatures`` says an envelope carries
signatures and by which key ids, not that they are valid. Verify them with the producer's
tool (``slsa-verifier``, ``cosign verify-attestation``, ``gh attestation verify``) before the
gate, and gate on that step's result.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import PurePosixPath
from typing import Any

from compliancegate.artifacts import sniffing as sn
from compliancegate.artifacts.digests import TooLarge, sha256_file
from compliancegate.artifacts.source import Source, parse_json
from compliancegate.errors import ArtifactError
from compliancegate.model import Artifact

KIND = "provenance"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE_PREFIX = "https://in-toto.io/Statement/"
MAX_PAYLOAD_BYTES = 32 * 1024 * 1024
"""Largest decoded DSSE payload: provenance runs to kilobytes; more is a mistake or hostile."""

_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle"
_SNIFF = re.compile(
    rb'"_type"\s*:\s*"https://in-toto\.io/Statement/'
    rb'|"payloadType"\s*:\s*"application/vnd\.in-toto\+json"'
    rb'|"mediaType"\s*:\s*"application/vnd\.dev\.sigstore\.bundle'
)


def _looks_like_attestation(document: dict[str, Any]) -> bool:
    statement_type = document.get("_type")
    media_type = document.get("mediaType")
    return (
        (isinstance(statement_type, str) and "in-toto.io/Statement" in statement_type)
        or document.get("payloadType") == IN_TOTO_PAYLOAD_TYPE
        or (isinstance(media_type, str) and media_type.startswith(_BUNDLE_MEDIA_TYPE))
        or "dsseEnvelope" in document
        or ("predicateType" in document and "subject" in document)
    )


def released_artifact(source: Source, name: str | None, digest: Any) -> dict[str, Any] | None:
    """The released file a subject names, when it ships beside the provenance, and whether
    its SHA-256 is the one the provenance attests.

    Only the name's last part is looked up, in the provenance file's own folder (where
    slsa-github-generator and ``gh attestation download`` put them): a subject name is
    attacker-controlled and must not reach outside the release folder. None when no such
    file is there; ``digest_matches`` is None when the subject gives no sha256.
    """
    if not name:
        return None
    base = PurePosixPath(name.replace("\\", "/")).name
    if base in ("", ".", ".."):
        return None
    candidate = source.path.parent / base
    try:
        if not candidate.is_file():
            return None
    except OSError:  # a name too long for the file system names no released file
        return None
    folder, sep, _ = source.display.rpartition("/")
    shown = f"{folder}{sep}{base}"
    try:
        actual = sha256_file(candidate, source.max_bytes)
    except TooLarge:
        raise source.error(
            f"{shown}, a subject of this provenance, is larger than the "
            f"{source.max_bytes:,}-byte artifact limit",
            hint="raise limits.max_artifact_bytes in compliancegate.yaml",
        ) from None
    except OSError as exc:
        raise source.error(
            f"{shown}, a subject of this provenance, cannot be read: {exc}"
        ) from None
    expected = digest.get("sha256") if isinstance(digest, dict) else None
    # The released file is judged against the provenance: a bundle carries it with it.
    source.also_judged.append((shown, actual))
    return {
        "path": shown,
        "sha256": actual,
        "digest_matches": None if not isinstance(expected, str) else expected.lower() == actual,
    }


class Provenance:
    """in-toto statements, DSSE envelopes and Sigstore bundles, bare or as JSON Lines."""

    name = "provenance"
    kind = KIND
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """An in-toto statement, an in-toto DSSE envelope or a Sigstore bundle, in any key
        order and at any size; or an ``*.intoto.json(l)`` name. A JSON Lines file (not one
        JSON document) is looked at as bytes."""
        if sn.name_ends(source, ".intoto.json", ".intoto.jsonl"):
            return True
        document = sn.json_document(source)
        if document is sn.UNPARSED:
            return sn.found_in_bytes(source, _SNIFF)
        return isinstance(document, dict) and _looks_like_attestation(document)

    def parse(self, source: Source) -> list[Artifact]:
        """One ``provenance`` document per statement (per line of a JSON Lines file)."""
        artifacts = []
        for index, (line, value) in enumerate(_json_documents(source)):
            where = f"line {line}: " if line > 1 or source.path.name.endswith(".jsonl") else ""
            document = _Reader(source, where, line).attestation(value)
            artifacts.append(
                Artifact(source.display, self.name, self.kind, self.syntax, document, index, line)
            )
        return artifacts


def _json_documents(source: Source) -> list[tuple[int, Any]]:
    """The file as one JSON document, else as JSON Lines: ``(line number, value)`` pairs.

    A ``.jsonl`` file's errors are reported per line; any other file is first read as one
    (possibly pretty-printed) document.
    """
    json_lines = source.path.name.lower().endswith(".jsonl")
    if not json_lines:
        try:
            return [(1, source.json)]
        except ArtifactError:
            if len([line for line in source.text.splitlines() if line.strip()]) < 2:
                raise
    documents = []
    for number, line in enumerate(source.text.splitlines(), start=1):
        if not line.strip():
            continue
        documents.append((number, parse_json(line, source, what="JSON Lines", line=number)))
    if not documents:
        raise source.error("empty file, expected an attestation")
    return documents


class _Reader:
    """Normalizes one attestation; errors name the file, the line and what is wrong.

    A container of the wrong type (``subject`` is a string) is an error: an attestation
    whose structure is wrong must not pass as one without subjects. A scalar of the wrong
    type (a builder id that is a number) reads as null, which policies see and refuse.
    """

    def __init__(self, source: Source, where: str, line: int) -> None:
        self.source = source
        self.where = where
        self.line = line

    def error(self, message: str) -> ArtifactError:
        return self.source.error(self.where + message, line=self.line)

    def attestation(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(
                "expected an in-toto statement, a DSSE envelope or a Sigstore bundle "
                f"(a JSON object), found {_json_type(value)}"
            )
        bundle_media_type = None
        if "dsseEnvelope" in value or "messageSignature" in value:
            bundle_media_type = _string(value.get("mediaType"))
            if "dsseEnvelope" not in value:
                raise self.error(
                    "a Sigstore bundle of a plain message signature: it signs a blob and "
                    "holds no attestation"
                )
            value = self.mapping(value["dsseEnvelope"], "dsseEnvelope")
        envelope = None
        if "payload" in value or "payloadType" in value:
            statement, envelope = self.envelope(value)
            envelope["bundle_media_type"] = bundle_media_type
        else:
            statement = value
        return self.statement(statement, envelope)

    def envelope(self, value: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        payload_type = value.get("payloadType")
        if payload_type != IN_TOTO_PAYLOAD_TYPE:
            raise self.error(
                f"DSSE payloadType is {str(payload_type)[:80]!r}, expected "
                f"{IN_TOTO_PAYLOAD_TYPE!r}: the envelope does not carry an in-toto statement"
            )
        payload = value.get("payload")
        if not isinstance(payload, str):
            raise self.error(f"DSSE payload is {_json_type(payload)}, expected base64 text")
        statement = self.decode(payload)
        signatures = []
        for i, signature in enumerate(self.sequence(value.get("signatures", []), "signatures")):
            signature = self.mapping(signature, f"signatures[{i}]")
            signatures.append(
                {"keyid": _string(signature.get("keyid")), "sig": _string(signature.get("sig"))}
            )
        return statement, {"payload_type": payload_type, "signatures": signatures}

    def decode(self, payload: str) -> dict[str, Any]:
        """The envelope's payload: base64 (standard or URL-safe) of a JSON statement."""
        text = payload.strip()
        if len(text) > (MAX_PAYLOAD_BYTES // 3 + 1) * 4:
            raise self.error(f"DSSE payload larger than the {MAX_PAYLOAD_BYTES:,}-byte limit")
        altchars = b"-_" if ("-" in text or "_" in text) else None
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars, validate=True)
        except (binascii.Error, ValueError):
            raise self.error("DSSE payload is not valid base64") from None
        try:
            payload = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("DSSE payload is not UTF-8 text") from None
        statement = parse_json(
            payload, self.source, what=self.where + "JSON in the DSSE payload", line=self.line
        )
        return self.mapping(statement, "DSSE payload")

    def statement(self, value: dict[str, Any], envelope: dict[str, Any] | None) -> dict[str, Any]:
        statement_type = value.get("_type")
        if not isinstance(statement_type, str) or not statement_type.startswith(
            STATEMENT_TYPE_PREFIX
        ):
            raise self.error(
                f"not an in-toto statement: _type is {str(statement_type)[:80]!r}, expected "
                f"{STATEMENT_TYPE_PREFIX}v1 or v0.1"
            )
        if "subject" not in value:
            raise self.error("the in-toto statement has no subject")
        subjects = []
        for i, subject in enumerate(self.sequence(value["subject"], "subject")):
            subject = self.mapping(subject, f"subject[{i}]")
            name = _string(subject.get("name"))
            digest = self.digest(subject.get("digest"), f"subject[{i}].digest")
            subjects.append(
                {
                    "name": name,
                    "digest": digest,
                    "source": self.source.display,
                    "artifact": released_artifact(self.source, name, digest),
                }
            )
        raw_predicate = value.get("predicate")
        predicate = {} if raw_predicate is None else self.mapping(raw_predicate, "predicate")
        return {
            "statement_type": statement_type,
            "predicate_type": _string(value.get("predicateType")),
            "subjects": subjects,
            "builder_id": _string(
                _path(predicate, "runDetails", "builder", "id") or _path(predicate, "builder", "id")
            ),
            "build_type": _string(
                _path(predicate, "buildDefinition", "buildType")
                or _path(predicate, "buildType")
                or _path(predicate, "recipe", "type")
            ),
            "materials": self.materials(predicate),
            "envelope": envelope,
            "predicate": value.get("predicate"),
        }

    def materials(self, predicate: dict[str, Any]) -> list[dict[str, Any]]:
        """SLSA v1 ``resolvedDependencies``, else v0.x ``materials``: ``[{uri, digest}]``."""
        definition = predicate.get("buildDefinition")
        if isinstance(definition, dict) and "resolvedDependencies" in definition:
            raw, where = definition["resolvedDependencies"], "resolvedDependencies"
        else:
            raw, where = predicate.get("materials") or [], "predicate.materials"
        materials = []
        for i, material in enumerate(self.sequence(raw, where)):
            material = self.mapping(material, f"{where}[{i}]")
            materials.append(
                {
                    "uri": _string(material.get("uri")),
                    "digest": self.digest(material.get("digest"), f"{where}[{i}].digest"),
                }
            )
        return materials

    def digest(self, value: Any, where: str) -> dict[str, str]:
        """``{algorithm: hex}``; entries whose value is not a string are dropped."""
        if value is None:
            return {}
        mapping = self.mapping(value, where)
        return {str(k): v for k, v in mapping.items() if isinstance(v, str)}

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"{where} is {_json_type(value)}, expected an object")
        return value

    def sequence(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(f"{where} is {_json_type(value)}, expected a list")
        return value


def _path(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


FORMAT = Provenance()
