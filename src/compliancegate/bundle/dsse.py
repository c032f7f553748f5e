"""An in-toto Statement v1 in a DSSE envelope, signed with Ed25519.

Formats (DSSE v1.0.0, https://github.com/secure-systems-lab/dsse; in-toto attestation
framework, https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md):

- The **statement** is canonical JSON (sorted keys, no spaces, ASCII only)::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "manifest.json", "digest": {"sha256": "<64 lowercase hex>"}}, ...],
     "predicateType": "<URI of the predicate's schema>",
     "predicate": {...}}

  Subjects keep the order given; names are unique; each carries exactly one SHA-256 digest.
- The **signature** is Ed25519 over the pre-authentication encoding of the payload type and
  the payload's exact bytes, never over re-serialised JSON::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

  where LEN is the byte length in ASCII decimal without leading zeros and SP one space. The
  specification's example: ``PAE("http://example.com/HelloWorld", b"hello world")`` is
  ``b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"``.
- The **envelope** is canonical JSON plus a newline::

    {"payload": "<base64 of the statement>", "payloadType": "application/vnd.in-toto+json",
     "signatures": [{"keyid": "<16 hex digits: compliancegate.signing.keys>", "sig": "<base64>"}]}

Opening is strict and in this order: the envelope's shape (exactly those fields, no key twice),
the payload type, then the signatures; the payload is parsed only after a signature by a
trusted key verified over its PAE, so nothing an attacker wrote is interpreted before it is
authenticated. A signature naming a trusted key that does not verify is refused even when
another verifies (a damaged envelope is never half-trusted); signatures by other keys are
ignored. Base64 may be standard or URL-safe, as DSSE allows.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compliancegate.errors import CompliancegateError
from compliancegate.ledger.records import canonical
from compliancegate.signing.keys import PublicKey, SigningKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
ENVELOPE_FIELDS = frozenset({"payload", "payloadType", "signatures"})
SIGNATURE_FIELDS = frozenset({"keyid", "sig"})
STATEMENT_FIELDS = frozenset({"_type", "subject", "predicateType", "predicate"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STANDARD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URLSAFE = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class EnvelopeError(CompliancegateError):
    """A signed envelope cannot be made or trusted: the message says exactly why."""


@dataclass(frozen=True)
class Subject:
    """One file the statement vouches for."""

    name: str
    sha256: str
    """Lowercase hex."""


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement v1."""

    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of ``payload_type`` and ``payload``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _plain(value: Any) -> Any:
    """``value`` with every mapping a dict and every tuple a list, for JSON."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _statement_object(statement: Statement) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": subject.name, "digest": {"sha256": subject.sha256}}
            for subject in statement.subjects
        ],
        "predicateType": statement.predicate_type,
        "predicate": _plain(statement.predicate),
    }


def statement_bytes(statement: Statement) -> bytes:
    """The statement as canonical JSON, subjects in the order given."""
    try:
        return canonical(_statement_object(statement))
    except (TypeError, ValueError, RecursionError) as exc:
        raise EnvelopeError(f"the statement cannot be written as JSON: {exc}") from None


def sign_envelope(statement: Statement, key: SigningKey) -> bytes:
    """The DSSE envelope of ``statement`` signed by ``key``, as canonical JSON and a newline.

    Deterministic (Ed25519 signatures are). A statement that :func:`open_envelope` would
    refuse is refused here, before it is signed.
    """
    payload = statement_bytes(statement)
    _parse_statement(payload)
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": key.key_id, "sig": base64.b64encode(signature).decode("ascii")}],
    }
    return canonical(envelope) + b"\n"


def open_envelope(
    data: bytes, trusted: Sequence[PublicKey], *, source: str | None = None
) -> tuple[Statement, str]:
    """The statement in the envelope ``data`` and the id of the trusted key whose signature
    verified; :class:`EnvelopeError` with the exact reason otherwise. ``source`` names the
    envelope's file in messages."""
    try:
        return _open(data, trusted)
    except EnvelopeError as exc:
        if source and exc.file is None:
            exc.file = source
        raise


def _open(data: bytes, trusted: Sequence[PublicKey]) -> tuple[Statement, str]:
    envelope = _json(data, "the envelope")
    if not isinstance(envelope, dict):
        raise EnvelopeError("the envelope is not a JSON object")
    _fields(envelope, ENVELOPE_FIELDS, "the envelope")
    payload_type = envelope["payloadType"]
    if payload_type != PAYLOAD_TYPE:
        raise EnvelopeError(f"the envelope's payloadType is {payload_type!r}, not {PAYLOAD_TYPE!r}")
    if not isinstance(envelope["payload"], str):
        raise EnvelopeError("the envelope's payload is not a string")
    payload = _base64(envelope["payload"], "the envelope's payload")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("the envelope has no signatures")
    by_id = {key.key_id: key for key in trusted}
    message = pae(PAYLOAD_TYPE, payload)
    signers: list[str] = []
    verified: str | None = None
    for index, signature in enumerate(signatures, 1):
        where = f"signature {index}"
        if not isinstance(signature, dict):
            raise EnvelopeError(f"{where} is not a JSON object")
        _fields(signature, SIGNATURE_FIELDS, where, optional=frozenset({"keyid"}))
        keyid = signature.get("keyid", "")
        if not isinstance(keyid, str):
            raise EnvelopeError(f"{where}: keyid is not a string")
        if not isinstance(signature["sig"], str):
            raise EnvelopeError(f"{where}: sig is not a string")
        sig = _base64(signature["sig"], f"{where}'s sig")
        if keyid:
            signers.append(keyid)
            key = by_id.get(keyid)
            if key is None:
                continue
            if not key.verify(message, sig):
                raise EnvelopeError(
                    f"{where}, by trusted key {keyid}, does not verify: the payload or the "
                    "signature was changed"
                )
            verified = verified or keyid
        else:
            # DSSE makes keyid optional: try every trusted key.
            signers.append("(no keyid)")
            for key in trusted:
                if key.verify(message, sig):
                    verified = verified or key.key_id
                    break
    if verified is None:
        shown = ", ".join(sorted(by_id)) or "none"
        raise EnvelopeError(
            f"no signature by a trusted key: signed by key(s) {', '.join(signers)}; "
            f"trusted: {shown}"
        )
    return _parse_statement(payload), verified


def _json(data: bytes, what: str) -> Any:
    from compliancegate.artifacts.strict_json import loads

    try:
        return loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        # strict_json refuses a key twice and NaN/Infinity as well as malformed JSON.
        raise EnvelopeError(f"{what} is not JSON: {exc}") from None
    except RecursionError:
        raise EnvelopeError(f"{what} is nested too deeply") from None


def _fields(
    value: dict[str, Any],
    allowed: frozenset[str],
    what: str,
    optional: frozenset[str] = frozenset(),
) -> None:
    missing = sorted(allowed - optional - set(value))
    if missing:
        raise EnvelopeError(f"{what} has no {', '.join(missing)} field")
    extra = sorted(set(value) - allowed)
    if extra:
        raise EnvelopeError(
            f"{what} has unknown field(s) {', '.join(map(repr, extra))}; expected only "
            f"{', '.join(sorted(allowed))}"
        )


def _base64(text: str, what: str) -> bytes:
    if _STANDARD.fullmatch(text):
        alphabet = None
    elif _URLSAFE.fullmatch(text):
        alphabet = b"-_"
    else:
        raise EnvelopeError(f"{what} is not valid base64")
    if "=" not in text:
        text += "=" * (-len(text) % 4)  # URL-safe base64 often drops its padding
    try:
        return base64.b64decode(text, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"{what} is not valid base64") from None


def _parse_statement(payload: bytes) -> Statement:
    document = _json(payload, "the signed payload")
    if not isinstance(document, dict):
        raise EnvelopeError("the signed payload is not an in-toto Statement (not a JSON object)")
    _fields(document, STATEMENT_FIELDS, "the statement")
    if document["_type"] != STATEMENT_TYPE:
        raise EnvelopeError(
            f"the statement's _type is {document['_type']!r}, not {STATEMENT_TYPE!r}"
        )
    subjects = document["subject"]
    if not isinstance(subjects, list) or not subjects:
        raise EnvelopeError("the statement's subject is not a non-empty list")
    parsed: list[Subject] = []
    names: set[str] = set()
    for index, subject in enumerate(subjects, 1):
        where = f"subject {index}"
        if not isinstance(subject, dict):
            raise EnvelopeError(f"{where} is not a JSON object")
        _fields(subject, frozenset({"name", "digest"}), where)
        name = subject["name"]
        if not isinstance(name, str) or not name:
            raise EnvelopeError(f"{where} has no name (a non-empty string)")
        where = f"subject {index} ({name!r})"
        digest = subject["digest"]
        if not isinstance(digest, dict):
            raise EnvelopeError(f"{where}: digest is not a JSON object")
        _fields(digest, frozenset({"sha256"}), f"{where}'s digest")
        sha256 = digest["sha256"]
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise EnvelopeError(f"{where}: the sha256 digest is not 64 lowercase hex digits")
        if name in names:
            raise EnvelopeError(f"{where} appears twice among the subjects")
        names.add(name)
        parsed.append(Subject(name, sha256))
    predicate_type = document["predicateType"]
    if not isinstance(predicate_type, str) or not predicate_type:
        raise EnvelopeError("the statement's predicateType is not a non-empty string")
    predicate = document["predicate"]
    if not isinstance(predicate, dict):
        raise EnvelopeError("the statement's predicate is not a JSON object")
    return Statement(tuple(parsed), predicate_type, predicate)
