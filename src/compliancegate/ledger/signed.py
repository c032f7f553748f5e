"""Signed heads: a signature over each stored batch's new head, so that recomputing the
chain needs the signing key.

``heads.jsonl`` lies beside ``records.jsonl``; each line, in canonical JSON, is one signed
head: the number, hash and byte size of the last record of a batch, ``prev`` (the SHA-256 of
the previous signed head's line, the genesis value for the first) and the Ed25519 signature
of the key ``key`` (its id) over ``DOMAIN`` followed by the canonical JSON of those fields.
Signed heads are chained like records, so one cannot be dropped, reordered or replaced.

A signed head at record N vouches for records 1 to N through the hash chain, so the signed
heads cover a ledger when the last one names its last record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compliancegate.ledger.chain import GENESIS, TAMPER_HINT, ChainHead
from compliancegate.ledger.interface import ChainError
from compliancegate.ledger.records import canonical, line_hash

if TYPE_CHECKING:
    from compliancegate.signing.keys import PublicKey, SigningKey

HEADS_FILE = "heads.jsonl"
DOMAIN = b"compliancegate/ledger-head/v1\n"
"""Prefixed to every signed message: a head signature is never valid for anything else."""
_FIELDS = {"v", "seq", "hash", "size", "prev", "key", "sig"}


@dataclass(frozen=True)
class SignedHead:
    """One line of ``heads.jsonl``."""

    head: ChainHead
    prev: str
    """SHA-256 of the previous signed head's line (``GENESIS`` for the first)."""
    key: str
    """Id of the key that signed (``PublicKey.key_id``)."""
    sig: bytes
    line: bytes
    """The exact line, without its newline."""

    @property
    def digest(self) -> str:
        """SHA-256 of the line: the next signed head's ``prev``."""
        return line_hash(self.line)


def _message(head: ChainHead, prev: str, key: str) -> bytes:
    body = {"v": 1, "seq": head.seq, "hash": head.hash, "size": head.size, "prev": prev}
    return DOMAIN + canonical({**body, "key": key})


def sign_head(key: SigningKey, head: ChainHead, prev: str) -> bytes:
    """The line (without its newline) of ``head`` signed with ``key`` after ``prev``."""
    sig = key.sign(_message(head, prev, key.key_id))
    fields: dict[str, Any] = {
        "v": 1,
        "seq": head.seq,
        "hash": head.hash,
        "size": head.size,
        "prev": prev,
        "key": key.key_id,
        "sig": base64.b64encode(sig).decode("ascii"),
    }
    return canonical(fields)


def complete(data: bytes) -> bytes:
    """``data`` up to its last newline: an append cut short leaves a torn line, worth
    nothing (the next signed head covers more), which the next append drops."""
    return data[: data.rfind(b"\n") + 1]


def append_head(data: bytes, key: SigningKey, head: ChainHead) -> bytes:
    """``heads.jsonl`` with ``head`` signed and appended (a torn last line dropped)."""
    data = complete(data)
    lines = data.splitlines()
    prev = line_hash(lines[-1]) if lines else GENESIS
    return data + sign_head(key, head, prev) + b"\n"


def _error(message: str, number: int, file: str) -> ChainError:
    return ChainError(
        f"signed head {number}: {message}", seq=0, file=file, line=number, hint=TAMPER_HINT
    )


def parse_heads(data: bytes, file: str, first_prev: str | None = GENESIS) -> list[SignedHead]:
    """The complete lines of ``heads.jsonl``, checked for format and chaining (not for
    signatures: that needs the trusted keys). ``first_prev`` is what the first line's
    ``prev`` must be; None for a run of lines cut from the middle (a bundle's), whose first
    ``prev`` names a line that is not there."""
    heads: list[SignedHead] = []
    prev = first_prev
    for number, line in enumerate(complete(data).splitlines(), start=1):
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict) or set(raw) != _FIELDS or type(raw["v"]) is not int:
                raise ValueError(f"fields must be exactly {sorted(_FIELDS)}")
            if raw["v"] != 1:
                raise ValueError(f"version {raw['v']} is not 1")
            seq, digest, size = raw["seq"], raw["hash"], raw["size"]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seq, size)):
                raise ValueError("seq and size must be integers")
            if not all(isinstance(raw[k], str) for k in ("hash", "prev", "key", "sig")):
                raise ValueError("hash, prev, key and sig must be strings")
            sig = base64.b64decode(raw["sig"], validate=True)
            if canonical(raw) != line:
                raise ValueError("not in canonical form")
        except (ValueError, binascii.Error, RecursionError) as exc:
            raise _error(f"malformed ({exc})", number, file) from None
        if prev is not None and raw["prev"] != prev:
            raise _error(
                "its prev is not the SHA-256 of the signed head before it: signed heads were "
                "removed, reordered or edited",
                number,
                file,
            )
        entry = SignedHead(ChainHead(seq, digest, size), raw["prev"], raw["key"], sig, line)
        heads.append(entry)
        prev = entry.digest
    return heads


def record_ends(records: bytes) -> Iterable[ChainHead]:
    """The head after each record of verified ``records`` bytes."""
    size = 0
    for seq, line in enumerate(records.splitlines(keepends=True), start=1):
        size += len(line)
        yield ChainHead(seq, line_hash(line.rstrip(b"\n")), size)


def check_heads(
    heads: Sequence[SignedHead],
    ends: Sequence[ChainHead],
    trusted: Sequence[PublicKey],
    file: str,
    first: int = 1,
) -> ChainError | None:
    """The first problem with ``heads`` against the verified chain ``ends`` (the head after
    each record, from record ``first``: a bundle holds a segment of the ledger); with
    ``trusted`` keys, also every signature and the coverage of the last record. None when
    they hold."""
    keys = {key.key_id: key for key in trusted}
    last = first - 1
    top = last + len(ends)
    for number, entry in enumerate(heads, start=1):
        head = entry.head
        if head.seq <= last:
            return _error(f"names record {head.seq}, not after record {last}", number, file)
        if head.seq > top or ends[head.seq - first] != head:
            found = "is not in the ledger" if head.seq > top else "differs"
            return _error(
                f"names record {head.seq} ({head.hash[:16]}..., {head.size} bytes), which "
                f"{found}: the records were rewritten or truncated after it was signed",
                number,
                file,
            )
        last = head.seq
        if not trusted:
            continue
        key = keys.get(entry.key)
        if key is None:
            return _error(
                f"record {head.seq} is signed by key {entry.key}, which is not a trusted key "
                f"({', '.join(sorted(keys))})",
                number,
                file,
            )
        if not key.verify(_message(head, entry.prev, entry.key), entry.sig):
            return _error(f"the signature of record {head.seq} does not verify", number, file)
    if trusted and ends and last != top:
        return ChainError(
            f"records {last + 1} to {top} are not covered by a signed head (the last "
            f"signed head names record {last})"
            if last >= first
            else f"none of the {len(ends)} records is covered by a signed head",
            seq=last + 1,
            file=file,
            hint="records appended without the signing key, or by someone without it",
        )
    return None


def parse_expected(value: str) -> ChainHead:
    """``SEQ:HASH`` (a head recorded earlier) as a head of unknown size; ``ValueError``."""
    seq_text, sep, digest = value.partition(":")
    if (
        not sep
        or not seq_text.isdigit()
        or int(seq_text) < 1
        or len(digest) != 64
        or digest.strip("0123456789abcdef")
    ):
        raise ValueError(f"{value!r} is not SEQ:HASH (a record number and its SHA-256 in hex)")
    return ChainHead(int(seq_text), digest, -1)


def expected_problem(
    ends: Sequence[ChainHead], expect: ChainHead | None, file: str
) -> ChainError | None:
    """Whether the head an auditor recorded earlier (``expect``) is still in the chain."""
    if expect is None:
        return None
    if expect.seq > len(ends):
        found = f"the ledger now ends at record {len(ends)}"
    elif ends[expect.seq - 1].hash != expect.hash:
        found = f"record {expect.seq} now hashes to {ends[expect.seq - 1].hash}"
    else:
        return None
    return ChainError(
        f"the expected head {expect.seq}:{expect.hash} is no longer a prefix of the ledger: "
        f"{found}; the ledger was rewritten or truncated since that head was recorded",
        seq=expect.seq,
        file=file,
        hint=TAMPER_HINT,
    )


def tip_problem(
    data: bytes, ends: Sequence[ChainHead], key: PublicKey, file: str
) -> ChainError | None:
    """What a writer with ``key`` checks before appending: the last signed head is its
    key's, its signature verifies, and it names a record still in the chain unchanged.

    One signature suffices: it signs its ``prev``, which chains every signed head before
    it, and the record it names vouches for every record before that. Records after it
    (appended by a writer without the key, such as a ``findings ack`` on a laptop) are
    accepted here; ``ledger verify --pubkey`` reports them as not covered.
    """
    heads = parse_heads(data, file)
    if not heads:
        return None
    last = heads[-1]
    number = len(heads)
    if last.key != key.key_id:
        return _error(
            f"the last signed head (record {last.head.seq}) is signed by key {last.key}, not "
            f"by this runner's key {key.key_id}: re-signed by someone else, or the key changed",
            number,
            file,
        )
    if not key.verify(_message(last.head, last.prev, last.key), last.sig):
        return _error(f"the signature of record {last.head.seq} does not verify", number, file)
    return _last_in(last, ends, number, file)


def _last_in(
    last: SignedHead, ends: Sequence[ChainHead], number: int, file: str
) -> ChainError | None:
    head = last.head
    if head.seq < 1 or head.seq > len(ends) or ends[head.seq - 1] != head:
        found = "is not in the ledger" if head.seq > len(ends) else "differs"
        return _error(
            f"names record {head.seq} ({head.hash[:16]}..., {head.size} bytes), which {found}: "
            "the records were rewritten or truncated after it was signed",
            number,
            file,
        )
    return None
