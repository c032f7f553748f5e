"""``bundle verify``: everything an auditor checks, offline, with only the public key.

In order, each step trusting only what the steps before it proved:

1. the archive is a plain, whole tar.gz of regular files with safe names (read as a stream;
   nothing is extracted);
2. the DSSE envelope's signature verifies with a trusted key, and its in-toto statement is a
   bundle's;
3. the members are exactly the statement's subjects, each with its SHA-256: nothing added,
   removed or changed;
4. the manifest is the one the statement names and agrees with the members;
5. the ledger segment chains record to record from where the manifest says it starts, ends at
   the head it names, and (for a signed ledger) is covered by heads signed with a trusted key;
6. every run the manifest lists is recorded in that segment with the same decision as its
   kept results, and every run in the segment is listed;
7. the OSCAL documents validate against NIST's schemas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliancegate.bundle import layout
from compliancegate.signing.keys import PublicKey


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify_bundle``."""

    problems: tuple[str, ...]
    """What failed, each with the member it concerns; empty when the bundle verified."""
    checked: tuple[str, ...]
    """What was checked and held, for the auditor's record."""
    key_id: str | None = None
    """The trusted key whose signature verified."""
    manifest: Mapping[str, Any] | None = None
    """The manifest, once everything verified."""
    members: Mapping[str, str] = field(default_factory=dict)
    """Every member's SHA-256 as verified (the envelope's included), once everything
    verified: what ``extract_archive`` must find again."""

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems


def _kept(name: str) -> bool:
    """Members read into memory: the small ones verification parses whole."""
    return name in (layout.ENVELOPE, layout.MANIFEST, layout.RECORDS, layout.HEADS) or (
        name in layout.OSCAL_MEMBERS
    )


RESULTS = "results.json"
ASSESSMENT = "assessment-results.json"


class _RunDocuments:
    """What verification needs of each run's documents, taken as the archive streams by and
    then dropped: a bundle of a year of runs is verified in the memory of one run.

    Facts are recorded by member name; they are only used once the member's digest is
    proved to be the signed one, so reading before the signature is checked trusts nothing.
    """

    def __init__(self) -> None:
        self.facts: dict[str, tuple[Any, ...]] = {}
        """``run.json``: (run_id, decision, started_at); ``results.json``: (run id,
        decision); an error: (message,)."""
        self.oscal: dict[str, list[str]] = {}
        """Each run's assessment results: its first schema errors."""

    def visit(self, name: str) -> Callable[[bytes], None] | None:
        if not name.startswith(layout.RUNS):
            return None
        if name.endswith("/" + layout.RUN_FILE):
            return lambda data: self._run(name, data)
        if name.endswith("/" + RESULTS):
            return lambda data: self._results(name, data)
        if name.endswith("/" + ASSESSMENT):
            return lambda data: self._assessment(name, data)
        return None

    def _run(self, name: str, data: bytes) -> None:
        try:
            document = _json(data, name)
            self.facts[name] = (
                document.get("run_id"),
                document.get("decision"),
                document.get("started_at"),
            )
        except (ValueError, AttributeError) as exc:
            self.facts[name] = (f"{name}: {exc}",)

    def _results(self, name: str, data: bytes) -> None:
        try:
            report = _json(data, name)
            self.facts[name] = (report.get("run", {}).get("id"), report.get("decision"))
        except (ValueError, AttributeError) as exc:
            self.facts[name] = (f"{name}: {exc}",)

    def _assessment(self, name: str, data: bytes) -> None:
        from compliancegate.oscal.validation import validate_oscal

        try:
            document = _json(data, name)
        except ValueError as exc:
            self.oscal[name] = [str(exc)]
            return
        self.oscal[name] = [f"{name}: {error}" for error in validate_oscal(document)[:5]]


def _json(data: bytes | None, name: str) -> Any:
    if data is None:
        raise ValueError(f"{name} is missing")
    from compliancegate.artifacts.strict_json import loads

    try:
        return loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # Strict: a key twice or NaN is refused; nesting past the parser's depth too.
        raise ValueError(f"{name} is not valid JSON ({type(exc).__name__}: {exc})") from None


def verify_bundle(path: Path, trusted: Sequence[PublicKey]) -> Verification:
    """Verify the bundle at ``path`` against the ``trusted`` public keys."""
    from compliancegate.bundle.archive import ArchiveError, scan_archive
    from compliancegate.bundle.dsse import EnvelopeError, open_envelope

    checked: list[str] = []
    documents = _RunDocuments()
    try:
        scanned = scan_archive(path, keep=_kept, visit=documents.visit)
    except ArchiveError as exc:
        return Verification((f"archive: {exc}",), ())
    checked.append(f"archive: {len(scanned)} regular files, safe names, nothing after the end")
    by_name = {m.name: m for m in scanned}
    envelope = by_name.get(layout.ENVELOPE)
    if envelope is None or envelope.data is None:
        return Verification((f"{layout.ENVELOPE} is missing: the bundle is not signed",), ())
    try:
        statement, key_id = open_envelope(envelope.data, trusted)
    except EnvelopeError as exc:
        return Verification((f"{layout.ENVELOPE}: {exc}",), tuple(checked))
    checked.append(f"signature: DSSE envelope signed by trusted key {key_id}")
    problems: list[str] = []
    if statement.predicate_type != layout.PREDICATE_TYPE:
        problems.append(
            f"{layout.ENVELOPE}: predicate type {statement.predicate_type!r} is not an "
            f"evidence bundle's ({layout.PREDICATE_TYPE})"
        )
        return Verification(tuple(problems), tuple(checked), key_id)
    problems += _members(statement.subjects, by_name)
    if problems:
        return Verification(tuple(problems), tuple(checked), key_id)
    checked.append(f"members: all {len(statement.subjects)} match the signed statement")
    try:
        kept = by_name.get(layout.MANIFEST)
        manifest = _json(kept.data if kept else None, layout.MANIFEST)
        problems += _manifest(manifest, statement.predicate, by_name)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problems.append(f"{layout.MANIFEST}: {exc}")
        return Verification(tuple(problems), tuple(checked), key_id)
    if problems:
        return Verification(tuple(problems), tuple(checked), key_id)
    checked.append("manifest: the one signed, listing every member")
    try:
        records, notes = _ledger(manifest, by_name, trusted)
        problems += notes
        if not notes:
            ledger = manifest["ledger"]
            signed = "signed heads by trusted keys" if ledger["signed"] else "no signed heads"
            checked.append(
                f"ledger: records {ledger['first']} to {ledger['last']} chain, end at "
                f"{ledger['head']['hash'][:16]}..., {signed}"
            )
            run_notes = _runs(manifest, records, by_name, documents)
            problems += run_notes
            if not run_notes:
                checked.append(
                    f"runs: {len(manifest['runs'])} listed, each as the ledger records it"
                )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # Signed by a trusted key yet malformed: still a failure, never a traceback.
        problems.append(f"{layout.MANIFEST}: malformed ({type(exc).__name__}: {exc})")
    oscal_notes, count = _oscal(by_name, documents)
    problems += oscal_notes
    if not oscal_notes:
        checked.append(f"OSCAL: {count} document(s) valid against NIST's OSCAL schemas")
    if problems:
        return Verification(tuple(problems), tuple(checked), key_id)
    digests = {name: member.sha256 for name, member in by_name.items()}
    return Verification((), tuple(checked), key_id, manifest, digests)


def _members(subjects: Sequence[Any], by_name: Mapping[str, Any]) -> list[str]:
    problems = []
    listed = {s.name: s.sha256 for s in subjects}
    for name, digest in listed.items():
        member = by_name.get(name)
        if member is None:
            problems.append(f"{name}: listed in the signed statement but missing (removed)")
        elif member.sha256 != digest:
            problems.append(
                f"{name}: SHA-256 {member.sha256} differs from the signed {digest} (changed)"
            )
    for name in by_name:
        if name != layout.ENVELOPE and name not in listed:
            problems.append(f"{name}: not in the signed statement (added)")
    return problems


def _manifest(manifest: Any, predicate: Mapping[str, Any], by_name: Mapping[str, Any]) -> list[str]:
    if not isinstance(manifest, dict) or manifest.get("kind") != layout.MANIFEST_KIND:
        return [f"{layout.MANIFEST}: not an evidence bundle manifest"]
    named = predicate.get("manifest")
    if not isinstance(named, dict) or named.get("sha256") != by_name[layout.MANIFEST].sha256:
        return [f"{layout.MANIFEST}: not the manifest the signed statement names"]
    listed = {row["name"]: row["sha256"] for row in manifest["members"]}
    actual = {
        name: m.sha256
        for name, m in by_name.items()
        if name not in (layout.ENVELOPE, layout.MANIFEST)
    }
    if listed != actual:
        extra = sorted(set(listed) ^ set(actual))
        return [f"{layout.MANIFEST}: its member list differs from the archive ({extra[:5]})"]
    return []


def _ledger(
    manifest: Mapping[str, Any], by_name: Mapping[str, Any], trusted: Sequence[PublicKey]
) -> tuple[list[Any], list[str]]:
    from compliancegate.ledger.chain import GENESIS, ChainHead, ChainWalk
    from compliancegate.ledger.interface import ChainError
    from compliancegate.ledger.signed import check_heads, parse_heads

    ledger = manifest["ledger"]
    first, last, offset, prev = ledger["first"], ledger["last"], ledger["offset"], ledger["prev"]
    if first == 1 and (prev != GENESIS or offset != 0):
        return [], [f"{layout.RECORDS}: record 1 must follow the genesis value at offset 0"]
    member = by_name.get(layout.RECORDS)
    if member is None or member.data is None:
        return [], [f"{layout.RECORDS} is missing"]
    lines = member.data.splitlines(keepends=True)
    start = ChainHead(first - 1, prev, offset)
    walk = ChainWalk(lines, layout.RECORDS, start)
    ends = []
    records = []
    try:
        for record in walk:
            records.append(record)
            ends.append(walk.head)
    except ChainError as exc:
        return [], [f"{layout.RECORDS}: record {exc.seq}: {exc.message}"]
    if walk.tail:
        return [], [f"{layout.RECORDS}: ends in a torn line"]
    head = ledger["head"]
    if walk.head.seq != last or walk.head.hash != head["hash"] or head["seq"] != last:
        return [], [
            f"{layout.RECORDS}: ends at record {walk.head.seq} ({walk.head.hash[:16]}...), not "
            f"at the head the manifest names ({head['seq']}, {str(head['hash'])[:16]}...)"
        ]
    heads_member = by_name.get(layout.HEADS)
    if ledger["signed"] or heads_member is not None:
        if heads_member is None or heads_member.data is None:
            return records, [f"{layout.HEADS} is missing though the ledger is signed"]
        try:
            heads = parse_heads(heads_member.data, layout.HEADS, first_prev=None)
        except ChainError as exc:
            return records, [f"{exc}"]
        if not heads:
            return records, [f"{layout.HEADS} holds no signed head"]
        problem = check_heads(heads, ends, trusted, layout.HEADS, first=first)
        if problem is not None:
            return records, [f"{layout.HEADS}: {problem.message}"]
    return records, []


def _run_documents(
    folder: str, run_id: str, record: Any, by_name: Mapping[str, Any], documents: _RunDocuments
) -> list[str]:
    """A run's kept ``run.json`` and ``results.json`` say what the ledger records of it."""
    from compliancegate.ledger.records import format_time

    decision, at = record.data["decision"], format_time(record.at)
    problems = []
    for name, expected in (
        (folder + layout.RUN_FILE, (run_id, decision, at)),
        (folder + RESULTS, (run_id, decision)),
    ):
        if name not in by_name:
            problems.append(f"{name} is missing")
            continue
        facts = documents.facts.get(name)
        if facts is None or len(facts) == 1:
            problems.append(facts[0] if facts else f"{name} was not read")
        elif facts != expected:
            said = " ".join(str(f) for f in facts)
            problems.append(f"{name}: says run {said}, the ledger records {' '.join(expected)}")
    return problems


def _runs(
    manifest: Mapping[str, Any],
    records: Sequence[Any],
    by_name: Mapping[str, Any],
    documents: _RunDocuments,
) -> list[str]:
    from compliancegate.ledger.records import RecordKind

    # By record number: a run id may be used twice (a retried job), a record only once.
    recorded = {
        r.seq: r for r in records if r.kind is RecordKind.RUN and r.seq <= manifest["ledger"]["end"]
    }
    problems = []
    listed = set()
    for run in manifest["runs"]:
        run_id = run["run_id"]
        seq = run["seq"]
        listed.add(seq)
        record = recorded.get(seq)
        if record is None or record.data["run_id"] != run_id:
            problems.append(
                f"run {run_id}: listed as record {seq}, which does not record it in the segment"
            )
            continue
        if record.data["decision"] != run["decision"]:
            problems.append(
                f"run {run_id}: the manifest says {run['decision']}, the ledger "
                f"{record.data['decision']}"
            )
        folder = run.get("evidence")
        if folder is None:
            continue
        problems += _run_documents(folder, run_id, record, by_name, documents)
    for seq, record in recorded.items():
        if seq not in listed:
            problems.append(
                f"run {record.data['run_id']}: recorded in the segment (record {seq}) but not "
                "listed"
            )
    return problems


def _oscal(by_name: Mapping[str, Any], documents: _RunDocuments) -> tuple[list[str], int]:
    from compliancegate.oscal.validation import validate_oscal

    problems = []
    names = [n for n in layout.OSCAL_MEMBERS if n in by_name]
    for name in names:
        try:
            document = _json(by_name[name].data, name)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        problems += [f"{name}: {error}" for error in validate_oscal(document)[:5]]
    for name in sorted(documents.oscal):
        problems += documents.oscal[name]
    if layout.POAM not in by_name:
        problems.append(f"{layout.POAM} is missing")
    return problems, len(names) + len(documents.oscal)
