"""The signed statement: PAE exactly as DSSE defines it, a round trip through sign and open, and
every way an envelope can be wrong (wrong or untrusted key, a bad trusted signature, one byte of
payload or its type changed, extra or missing fields, a payload that is not a Statement v1)
refused with the exact reason; the payload is read only after its signature verified."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import given
from hypothesis import strategies as st

from compliancegate.bundle import dsse
from compliancegate.bundle.dsse import (
    PAYLOAD_TYPE,
    STATEMENT_TYPE,
    EnvelopeError,
    Statement,
    Subject,
    open_envelope,
    pae,
    sign_envelope,
    statement_bytes,
)
from compliancegate.ledger.records import canonical
from compliancegate.signing.keys import SigningKey, private_from_pem

DIGEST_A = "a" * 64
DIGEST_B = "0123456789abcdef" * 4


def make_key(seed: int) -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return private_from_pem(pem, f"key{seed}")


KEY = make_key(1)
OTHER = make_key(2)
STATEMENT = Statement(
    (Subject("manifest.json", DIGEST_A), Subject("runs/r1/results.json", DIGEST_B)),
    "https://compliancegate.dev/bundle/v1",
    {"run": "r1", "period": {"since": None}, "counts": [1, 2]},
)


def envelope_of(data: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(data)
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def signed_payload(payload: bytes, key: SigningKey = KEY, **changes: Any) -> bytes:
    """An envelope over exactly ``payload``, validly signed: for payloads sign_envelope refuses."""
    envelope = {
        "payload": b64(payload),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": key.key_id, "sig": b64(key.sign(pae(PAYLOAD_TYPE, payload)))}],
    }
    envelope.update(changes)
    return canonical(envelope)


def refused(data: bytes, message: str, trusted: tuple[Any, ...] = (KEY.public,)) -> None:
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(data, trusted)
    assert message in str(caught.value), str(caught.value)


# --- PAE ----------------------------------------------------------------------------------------


def test_pae_is_the_specifications_example() -> None:
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters_and_keeps_the_body_verbatim() -> None:
    assert pae("", b"") == b"DSSEv1 0  0 "
    assert pae("\u00e9", b"a b\n\x00") == b"DSSEv1 2 \xc3\xa9 5 a b\n\x00"
    assert pae(PAYLOAD_TYPE, b"{}") == b"DSSEv1 28 application/vnd.in-toto+json 2 {}"


@given(st.text(max_size=30), st.binary(max_size=300))
def test_pae_is_unambiguous(kind: str, body: bytes) -> None:
    encoded = pae(kind, body)
    head, length, rest = encoded.split(b" ", 2)
    assert head == b"DSSEv1"
    kind_bytes = kind.encode()
    assert int(length) == len(kind_bytes) and str(int(length)).encode() == length
    assert rest[: len(kind_bytes)] == kind_bytes
    body_length, _, tail = rest[len(kind_bytes) + 1 :].partition(b" ")
    assert int(body_length) == len(body) and tail == body


# --- Signing and opening ------------------------------------------------------------------------


def test_sign_then_open_gives_the_statement_and_the_key() -> None:
    envelope = sign_envelope(STATEMENT, KEY)
    assert envelope.endswith(b"}\n") and envelope.count(b"\n") == 1
    statement, key_id = open_envelope(envelope, [OTHER.public, KEY.public])
    assert statement == Statement(STATEMENT.subjects, STATEMENT.predicate_type, STATEMENT.predicate)
    assert key_id == KEY.key_id


def test_the_envelope_and_statement_have_the_documented_shape() -> None:
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    assert sorted(envelope) == ["payload", "payloadType", "signatures"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert envelope["signatures"] == [
        {"keyid": KEY.key_id, "sig": envelope["signatures"][0]["sig"]}
    ]
    payload = base64.b64decode(envelope["payload"])
    assert payload == statement_bytes(STATEMENT)
    assert json.loads(payload) == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "manifest.json", "digest": {"sha256": DIGEST_A}},
            {"name": "runs/r1/results.json", "digest": {"sha256": DIGEST_B}},
        ],
        "predicateType": "https://compliancegate.dev/bundle/v1",
        "predicate": {"run": "r1", "period": {"since": None}, "counts": [1, 2]},
    }
    # The signature is over PAE(type, payload bytes), checked with the raw key directly.
    sig = base64.b64decode(envelope["signatures"][0]["sig"])
    assert KEY.public.verify(pae(PAYLOAD_TYPE, payload), sig)
    assert not KEY.public.verify(payload, sig)


def test_signing_is_deterministic_and_keeps_the_subject_order() -> None:
    assert sign_envelope(STATEMENT, KEY) == sign_envelope(STATEMENT, KEY)
    reversed_statement = Statement(
        STATEMENT.subjects[::-1], STATEMENT.predicate_type, STATEMENT.predicate
    )
    statement, _ = open_envelope(sign_envelope(reversed_statement, KEY), [KEY.public])
    assert [s.name for s in statement.subjects] == ["runs/r1/results.json", "manifest.json"]


def test_a_predicate_of_nested_mappings_and_tuples_is_written_as_json() -> None:
    from types import MappingProxyType

    statement = Statement(
        (Subject("a", DIGEST_A),), "t", MappingProxyType({"x": (1, MappingProxyType({"y": 2}))})
    )
    opened, _ = open_envelope(sign_envelope(statement, KEY), [KEY.public])
    assert opened.predicate == {"x": [1, {"y": 2}]}


def test_a_statement_open_would_refuse_is_never_signed() -> None:
    for statement in [
        Statement((), "t", {}),
        Statement((Subject("a", "A" * 64),), "t", {}),
        Statement((Subject("a", DIGEST_A), Subject("a", DIGEST_B)), "t", {}),
        Statement((Subject("a", DIGEST_A),), "", {}),
    ]:
        with pytest.raises(EnvelopeError):
            sign_envelope(statement, KEY)
    with pytest.raises(EnvelopeError, match="cannot be written as JSON"):
        sign_envelope(Statement((Subject("a", DIGEST_A),), "t", {"x": float("nan")}), KEY)


# --- Keys and signatures ------------------------------------------------------------------------


def test_a_wrong_key_names_the_signer_and_the_trusted_keys() -> None:
    refused(
        sign_envelope(STATEMENT, OTHER),
        f"no signature by a trusted key: signed by key(s) {OTHER.key_id}; trusted: {KEY.key_id}",
    )
    refused(sign_envelope(STATEMENT, KEY), "trusted: none", trusted=())


def test_an_untrusted_signature_beside_a_trusted_one_is_accepted_by_the_trusted_one() -> None:
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    theirs = envelope_of(sign_envelope(STATEMENT, OTHER))["signatures"][0]
    for order in ([theirs, envelope["signatures"][0]], [envelope["signatures"][0], theirs]):
        data = canonical({**envelope, "signatures": order})
        statement, key_id = open_envelope(data, [KEY.public])
        assert key_id == KEY.key_id and statement.subjects == STATEMENT.subjects


def test_an_untrusted_garbage_signature_beside_a_trusted_one_is_ignored() -> None:
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    junk = {"keyid": "ffffffffffffffff", "sig": b64(b"\0" * 64)}
    data = canonical({**envelope, "signatures": [junk, *envelope["signatures"]]})
    assert open_envelope(data, [KEY.public])[1] == KEY.key_id


def test_a_trusted_key_id_with_a_bad_signature_is_refused_even_beside_a_good_one() -> None:
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    good = envelope["signatures"][0]
    bad = {"keyid": KEY.key_id, "sig": b64(OTHER.sign(pae(PAYLOAD_TYPE, b"x")))}
    for signatures in ([bad], [good, bad], [bad, good]):
        refused(
            canonical({**envelope, "signatures": signatures}),
            f"by trusted key {KEY.key_id}, does not verify",
        )


def test_a_signature_without_keyid_is_tried_against_every_trusted_key() -> None:
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    bare = {"sig": envelope["signatures"][0]["sig"]}
    data = canonical({**envelope, "signatures": [bare]})
    assert open_envelope(data, [OTHER.public, KEY.public])[1] == KEY.key_id
    refused(data, "signed by key(s) (no keyid)", trusted=(OTHER.public,))


@pytest.mark.parametrize("position", [0, 1, 10, 50, -3, -1])
def test_the_payload_changed_by_one_byte_is_refused(position: int) -> None:
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[position] ^= 0x01
    data = canonical({**envelope, "payload": b64(bytes(payload))})
    refused(data, "does not verify")


def test_the_signature_changed_by_one_bit_is_refused() -> None:
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[5] ^= 0x80
    signature = {"keyid": KEY.key_id, "sig": b64(bytes(sig))}
    refused(canonical({**envelope, "signatures": [signature]}), "does not verify")


def test_a_changed_payload_type_is_refused_even_when_signed_over() -> None:
    payload = statement_bytes(STATEMENT)
    other_type = "application/json"
    sig = KEY.sign(pae(other_type, payload))
    data = canonical(
        {
            "payload": b64(payload),
            "payloadType": other_type,
            "signatures": [{"keyid": KEY.key_id, "sig": b64(sig)}],
        }
    )
    refused(data, "payloadType is 'application/json'")
    # Changing only the type of a valid envelope: refused the same way.
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    refused(canonical({**envelope, "payloadType": other_type}), "payloadType")


def test_url_safe_base64_is_accepted_as_dsse_allows() -> None:
    envelope = envelope_of(sign_envelope(STATEMENT, KEY))
    payload = base64.urlsafe_b64encode(base64.b64decode(envelope["payload"])).decode().rstrip("=")
    sig = base64.urlsafe_b64encode(base64.b64decode(envelope["signatures"][0]["sig"])).decode()
    data = canonical(
        {**envelope, "payload": payload, "signatures": [{"keyid": KEY.key_id, "sig": sig}]}
    )
    assert open_envelope(data, [KEY.public])[1] == KEY.key_id


# --- Malformed envelopes ------------------------------------------------------------------------


def good() -> dict[str, Any]:
    return envelope_of(sign_envelope(STATEMENT, KEY))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'"x"', "not a JSON object"),
        (b'{"payload": NaN}', "not JSON"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a":' * 100_000, "nested too deeply"),
        (canonical({k: v for k, v in good().items() if k != "payload"}), "no payload field"),
        (canonical({k: v for k, v in good().items() if k != "signatures"}), "no signatures"),
        (
            canonical({k: v for k, v in good().items() if k != "payloadType"}),
            "no payloadType field",
        ),
        (canonical({**good(), "extra": 1}), "unknown field(s) 'extra'"),
        (canonical({**good(), "signatures": []}), "no signatures"),
        (canonical({**good(), "signatures": {}}), "no signatures"),
        (canonical({**good(), "signatures": ["x"]}), "signature 1 is not a JSON object"),
        (canonical({**good(), "signatures": [{"keyid": KEY.key_id}]}), "no sig field"),
        (
            canonical({**good(), "signatures": [{**good()["signatures"][0], "cert": "x"}]}),
            "unknown field(s) 'cert'",
        ),
        (canonical({**good(), "signatures": [{"keyid": 1, "sig": "AA=="}]}), "keyid is not"),
        (canonical({**good(), "signatures": [{"keyid": "k", "sig": 5}]}), "sig is not a string"),
        (
            canonical({**good(), "signatures": [{"keyid": KEY.key_id, "sig": "!!"}]}),
            "sig is not valid base64",
        ),
        (canonical({**good(), "payload": "not base64!"}), "payload is not valid base64"),
        (canonical({**good(), "payload": "abc=d"}), "payload is not valid base64"),
        (canonical({**good(), "payload": 12}), "payload is not a string"),
        (canonical({**good(), "payloadType": None}), "payloadType is None"),
    ],
)
def test_a_malformed_envelope_is_refused_with_the_reason(data: bytes, message: str) -> None:
    refused(data, message)


def test_a_key_given_twice_in_the_envelope_is_refused() -> None:
    envelope = good()
    text = canonical(envelope).decode()
    doubled = text[:-1] + ',"payload":"' + b64(b"{}") + '"}'
    refused(doubled.encode(), 'duplicate key "payload"')


# --- Malformed statements (validly signed, so only the statement check can refuse them) --------


def statement_dict(**changes: Any) -> dict[str, Any]:
    document = json.loads(statement_bytes(STATEMENT))
    document.update(changes)
    return {k: v for k, v in document.items() if v is not REMOVE}


REMOVE = object()
SUBJECT = {"name": "a", "digest": {"sha256": DIGEST_A}}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "signed payload is not JSON"),
        (b"[1]", "not an in-toto Statement"),
        (canonical(statement_dict(_type="https://in-toto.io/Statement/v0.1")), "_type is"),
        (canonical(statement_dict(_type=REMOVE)), "no _type field"),
        (canonical(statement_dict(extra=1)), "unknown field(s) 'extra'"),
        (canonical(statement_dict(subject=[])), "subject is not a non-empty list"),
        (canonical(statement_dict(subject={"name": "a"})), "subject is not a non-empty list"),
        (canonical(statement_dict(subject=REMOVE)), "no subject field"),
        (canonical(statement_dict(subject=["a"])), "subject 1 is not a JSON object"),
        (canonical(statement_dict(subject=[{"digest": {"sha256": DIGEST_A}}])), "no name"),
        (
            canonical(statement_dict(subject=[{"name": "", "digest": {"sha256": DIGEST_A}}])),
            "subject 1 has no name",
        ),
        (
            canonical(statement_dict(subject=[{"name": 3, "digest": {"sha256": DIGEST_A}}])),
            "subject 1 has no name",
        ),
        (canonical(statement_dict(subject=[{"name": "a"}])), "no digest field"),
        (canonical(statement_dict(subject=[{"name": "a", "digest": "x"}])), "not a JSON object"),
        (canonical(statement_dict(subject=[{"name": "a", "digest": {}}])), "no sha256 field"),
        (
            canonical(statement_dict(subject=[{"name": "a", "digest": {"sha512": "a" * 128}}])),
            "no sha256 field",
        ),
        (
            canonical(statement_dict(subject=[{"name": "a", "digest": {"sha256": "A" * 64}}])),
            "64 lowercase hex",
        ),
        (
            canonical(statement_dict(subject=[{"name": "a", "digest": {"sha256": "a" * 63}}])),
            "64 lowercase hex",
        ),
        (
            canonical(statement_dict(subject=[{"name": "a", "digest": {"sha256": "a" * 65}}])),
            "64 lowercase hex",
        ),
        (
            canonical(statement_dict(subject=[{"name": "a", "digest": {"sha256": "g" * 64}}])),
            "64 lowercase hex",
        ),
        (
            canonical(statement_dict(subject=[{"name": "a", "digest": {"sha256": 7}}])),
            "64 lowercase hex",
        ),
        (canonical(statement_dict(subject=[SUBJECT, SUBJECT])), "appears twice"),
        (
            canonical(statement_dict(subject=[{**SUBJECT, "uri": "x"}])),
            "unknown field(s) 'uri'",
        ),
        (canonical(statement_dict(predicateType=5)), "predicateType is not"),
        (canonical(statement_dict(predicateType="")), "predicateType is not"),
        (canonical(statement_dict(predicateType=REMOVE)), "no predicateType"),
        (canonical(statement_dict(predicate=[])), "predicate is not a JSON object"),
        (canonical(statement_dict(predicate="x")), "predicate is not a JSON object"),
        (canonical(statement_dict(predicate=REMOVE)), "no predicate field"),
        (b'{"_type":"a","_type":"b"}', 'duplicate key "_type"'),
        (b'{"predicate":' * 50_000, "nested too deeply"),
    ],
)
def test_a_signed_payload_that_is_not_a_statement_v1_is_refused(
    payload: bytes, message: str
) -> None:
    refused(signed_payload(payload), message)


def test_the_payload_is_never_parsed_before_a_signature_verified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[bytes] = []
    original = dsse._parse_statement
    envelope = sign_envelope(STATEMENT, KEY)

    def spy(payload: bytes) -> Statement:
        parsed.append(payload)
        return original(payload)

    monkeypatch.setattr(dsse, "_parse_statement", spy)
    with pytest.raises(EnvelopeError, match="no signature by a trusted key"):
        open_envelope(signed_payload(b"not json", key=OTHER), [KEY.public])
    assert parsed == []
    open_envelope(envelope, [KEY.public])
    assert len(parsed) == 1


def test_the_source_names_the_file_in_messages() -> None:
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(b"{", [KEY.public], source="bundle/statement.dsse.json")
    assert str(caught.value).startswith("bundle/statement.dsse.json: ")


def test_statement_type_constants() -> None:
    assert STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert PAYLOAD_TYPE == "application/vnd.in-toto+json"


def test_an_envelope_nested_past_the_parser_depth_is_refused() -> None:
    """A hostile envelope nested 200,000 deep: refused with a message, not a RecursionError."""
    refused(b"[" * 200_000 + b"]" * 200_000, "nested too deeply")


def test_a_predicate_too_deep_for_json_is_refused_when_signing() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5_000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(EnvelopeError, match="cannot be written as JSON"):
        sign_envelope(Statement((Subject("a", DIGEST_A),), "t", deep), KEY)
