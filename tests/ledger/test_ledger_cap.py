"""The ledger's cap: a run records at most ``cap`` violations per policy with their text;
past it, one finding per policy follows the rest and each run adds one ``finding.overflow``
summary (count, waived, digest). Clocks stay honest: nothing past the cap is reported fixed
while it still fails, nothing loses its clock, and the break-fix rule sees the same."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_project import DAY0, Project, cli, cli_subprocess, day, git, register_yaml

from compliancegate.ledger.breakfix import open_break_fix, release_block, sort_open
from compliancegate.ledger.chain import EMPTY, link
from compliancegate.ledger.changes import build_batch
from compliancegate.ledger.files import Head, encode_head
from compliancegate.ledger.filestore import FileStore
from compliancegate.ledger.observe import RunContext, observe
from compliancegate.ledger.operations import from_json, to_json
from compliancegate.ledger.overflow import (
    DEFAULT_CAP,
    MAX_CAP,
    digest,
    overflow_fingerprint,
)
from compliancegate.ledger.records import (
    Entry,
    RecordFormatError,
    RecordKind,
    decode,
    encode,
)
from compliancegate.ledger.state import Finding, FindingStatus, LedgerState, StateBuilder
from compliancegate.ledger.views import finding_json, findings_table
from compliancegate.loading.policies import load_policies
from compliancegate.loading.register import load_register
from compliancegate.model import (
    CheckReport,
    Coverage,
    Decision,
    Location,
    Policy,
    PolicyResult,
    Register,
    Severity,
    Status,
    Violation,
    Waiver,
)

CAP = 5

POLICIES = "".join(
    f"""\
---
apiVersion: compliancegate/v1
kind: Policy
id: {name}
title: Policy {name}
controls: [{control}]
severity: {severity}
input: {{glob: "*.json"}}
rule: {{path: ok, op: equals, value: true}}
"""
    for name, control, severity in [
        ("vulns", "tiny:VULN-1", "critical"),
        ("other", "tiny:VULN-1", "high"),
        ("pinned", "tiny:CFG-1", "moderate"),
    ]
)

Setup = tuple[dict[str, Policy], Register]


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICIES, encoding="utf-8")
    (tmp_path / "register.yaml").write_text(register_yaml(), encoding="utf-8")
    register = load_register([tmp_path / "register.yaml"])
    policies = {p.id: p for p in load_policies([tmp_path / "policies"], register).policies}
    return policies, register


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "ledger", "ledger")


def fp(policy: str, n: int) -> str:
    """A violation fingerprint, shaped like the engine's (SHA-256 hex)."""
    return hashlib.sha256(f"{policy}\x00{n}".encode()).hexdigest()


def violation(policy: Policy, n: int, waiver: Waiver | None = None) -> Violation:
    return Violation(
        fingerprint=fp(policy.id, n),
        policy=policy.id,
        controls=policy.controls,
        severity=policy.severity,
        message=f"{policy.id} item {n}",
        remediation="fix it",
        location=Location(f"{policy.id}.json", n),
        kind="raw",
        waiver=waiver,
    )


def waiver(policy: Policy, expires: dt.date | None = dt.date(2026, 9, 30)) -> Waiver:
    return Waiver("W-1", policy.id, (), "r", "a", expires, None, "waivers.yaml", 3)


def report(
    setup: Setup,
    at: dt.datetime,
    failing: dict[str, Iterable[int]],
    *,
    status: Status | None = None,
    waived: Iterable[int] = (),
    release: bool = False,
    run_id: str = "run",
) -> CheckReport:
    """A run at ``at`` in which each named policy fails on the items numbered; the others
    pass. ``waived``: items of ``vulns`` a waiver covers."""
    policies, register = setup
    covered = set(waived)
    results = []
    for name, policy in policies.items():
        items = list(failing.get(name, ()))
        violations = tuple(
            violation(policy, n, waiver(policy) if name == "vulns" and n in covered else None)
            for n in items
        )
        state = status or (Status.FAIL if violations else Status.PASS)
        results.append(PolicyResult(policy, state, violations, blocking=bool(violations)))
    return CheckReport(
        run_id=run_id,
        started_at=at,
        environment="production" if release else "staging",
        fail_on=Severity.MODERATE,
        decision=Decision.BLOCKED,
        results=tuple(results),
        notices=(),
        coverage=Coverage(0, 0, ()),
        paths=("release",),
        tool_version="9.9",
        register=register,
        release=release,
    )


CONTEXT = RunContext("c0ffee", "main", None)


def record(store: FileStore, rep: CheckReport, cap: int = CAP) -> list[dict[str, Any]]:
    """Record ``rep`` with ``cap``; the records it added."""
    before = _lines(store)
    outcome = store.commit([observe(rep, CONTEXT, cap=cap)])
    assert outcome.pending == 0
    return [json.loads(line) for line in _lines(store)[len(before) :]]


def _lines(store: FileStore) -> list[bytes]:
    path = store.folder / "records.jsonl"
    return path.read_bytes().splitlines() if path.exists() else []


def state_at(store: FileStore, now: dt.datetime) -> LedgerState:
    return store.snapshot(now).state


def of_kind(records: Sequence[dict[str, Any]], kind: RecordKind) -> list[dict[str, Any]]:
    return [r["data"] for r in records if r["kind"] == kind.value]


def individual(state: LedgerState, policy: str = "vulns") -> list[Finding]:
    return [
        f
        for f in state.findings.values()
        if f.policy == policy and f.fingerprint != overflow_fingerprint(policy)
    ]


def overflow_of(state: LedgerState, policy: str = "vulns") -> list[Finding]:
    """Every life of the finding that follows ``policy``'s violations past the cap."""
    return [f for f in state.findings.values() if f.fingerprint == overflow_fingerprint(policy)]


def past(n: int, cap: int = CAP, policy: str = "vulns") -> list[str]:
    """The fingerprints of items 0..n-1 the cap leaves out (all but the ``cap`` smallest)."""
    return sorted(fp(policy, i) for i in range(n))[cap:]


# --------------------------------------------------------------------------- one run


@pytest.mark.parametrize("n", [CAP - 1, CAP, CAP + 1, 2 * CAP, 7 * CAP + 3])
def test_below_at_and_above_the_cap(setup: Setup, store: FileStore, n: int) -> None:
    added = record(store, report(setup, DAY0, {"vulns": range(n)}))
    opened = of_kind(added, RecordKind.OPENED)
    summaries = of_kind(added, RecordKind.OVERFLOW)
    (run,) = of_kind(added, RecordKind.RUN)
    assert run["violations"] == n  # every violation is counted, recorded or not
    texts = [o for o in opened if not o["fingerprint"].startswith("overflow:")]
    # The cap smallest fingerprints keep their text, the same ones whatever the order.
    assert sorted(o["fingerprint"] for o in texts) == sorted(fp("vulns", i) for i in range(n))[:CAP]
    assert all(o["title"].startswith("vulns item") and o["file"] for o in texts)
    state = state_at(store, DAY0)
    if n <= CAP:
        assert summaries == [] and overflow_of(state) == []
        assert len(added) == 1 + n
        return
    (summary,) = summaries
    (finding,) = overflow_of(state)
    assert summary["count"] == n - CAP and summary["cap"] == CAP and summary["waived"] == 0
    assert summary["fingerprints"] == digest(past(n))
    assert summary["finding"] == finding.id and summary["policy"] == "vulns"
    # No text of what is past the cap: the opening has no location and a generic title.
    assert (finding.file, finding.line, finding.title) == (
        None,
        None,
        f"violations of vulns past the ledger's cap of {CAP} per run",
    )
    assert finding.status is FindingStatus.OPEN and finding.opened_at == DAY0
    assert finding.clock.due == DAY0 + dt.timedelta(days=30)  # security-incident, high
    assert finding.overflow is not None and finding.overflow.count == n - CAP
    assert len(added) == 1 + CAP + 2  # run, CAP openings, the overflow's opening, summary
    assert json.loads(json.dumps(finding_json(finding)))["past_cap"] == {
        "count": n - CAP,
        "run_id": "run",
        "at": "2026-03-02T09:00:00Z",
    }


def test_records_per_run_are_bounded_whatever_the_violations(
    setup: Setup, store: FileStore
) -> None:
    """Ten times the violations, the same number of records, each no longer."""
    sizes = []
    for n in (CAP * 2, CAP * 20, CAP * 200):
        folder = store.folder.parent / f"ledger-{n}"
        each = FileStore(folder, "ledger")
        added = record(each, report(setup, DAY0, {"vulns": range(n), "other": range(n)}))
        sizes.append(len(added))
        assert max(len(json.dumps(r)) for r in added) < 2000
    assert sizes == [1 + 2 * (CAP + 2)] * 3


def test_the_order_of_the_evidence_does_not_change_what_is_kept(
    setup: Setup, store: FileStore
) -> None:
    record(store, report(setup, DAY0, {"vulns": range(3 * CAP)}))
    added = record(store, report(setup, day(1), {"vulns": reversed(range(3 * CAP))}))
    assert of_kind(added, RecordKind.OPENED) == of_kind(added, RecordKind.RESOLVED) == []
    (summary,) = of_kind(added, RecordKind.OVERFLOW)
    assert summary["fingerprints"] == digest(past(3 * CAP))


def test_the_cap_is_per_policy(setup: Setup, store: FileStore) -> None:
    added = record(store, report(setup, DAY0, {"vulns": range(CAP + 2), "other": range(CAP)}))
    summaries = of_kind(added, RecordKind.OVERFLOW)
    assert [s["policy"] for s in summaries] == ["vulns"]
    state = state_at(store, DAY0)
    assert len(individual(state, "other")) == CAP and overflow_of(state, "other") == []


# --------------------------------------------------------------------------- several runs


def test_persisting_violations_past_the_cap_close_nothing_until_fixed(
    setup: Setup, store: FileStore
) -> None:
    """Run 1 has 2 x cap violations, run 2 the same: nothing closes; run 3 has none:
    everything closes, at run 3's time."""
    record(store, report(setup, DAY0, {"vulns": range(2 * CAP)}))
    added = record(store, report(setup, day(10), {"vulns": range(2 * CAP)}))
    assert [r["kind"] for r in added] == ["run", "finding.overflow"]
    state = state_at(store, day(10))
    (finding,) = overflow_of(state)
    assert finding.live and finding.opened_at == DAY0  # its clock did not restart
    assert all(f.live and f.opened_at == DAY0 for f in individual(state))
    assert [e.kind for e in finding.events] == [
        RecordKind.OPENED,
        RecordKind.OVERFLOW,
        RecordKind.OVERFLOW,
    ]
    # Past its due date it is breached like any other finding.
    assert [b.kind for b in state_at(store, day(31)).findings[finding.id].breaches] == ["due"]
    added = record(store, report(setup, day(20), {}))
    assert len(of_kind(added, RecordKind.RESOLVED)) == CAP + 1
    assert of_kind(added, RecordKind.OVERFLOW) == []
    state = state_at(store, day(20))
    assert not any(f.live for f in state.findings.values())
    (finding,) = overflow_of(state)
    assert finding.resolved_at == day(20)


def test_violations_past_the_cap_keep_their_clock_when_the_recorded_ones_are_fixed(
    setup: Setup, store: FileStore
) -> None:
    """The recorded violations are fixed, those past the cap are not: they are not opened
    again as new findings with a later clock; they stay with the overflow finding."""
    record(store, report(setup, DAY0, {"vulns": range(2 * CAP)}))
    smallest = {fp("vulns", i) for i in range(2 * CAP)} - set(past(2 * CAP))
    remaining = [i for i in range(2 * CAP) if fp("vulns", i) not in smallest]
    added = record(store, report(setup, day(5), {"vulns": remaining}))
    assert of_kind(added, RecordKind.OPENED) == []
    assert len(of_kind(added, RecordKind.RESOLVED)) == CAP
    (summary,) = of_kind(added, RecordKind.OVERFLOW)
    assert summary["count"] == CAP and summary["fingerprints"] == digest(past(2 * CAP))
    state = state_at(store, day(5))
    (finding,) = overflow_of(state)
    assert finding.live and finding.opened_at == DAY0
    # A new violation while the overflow is open joins it (the ledger cannot tell it from
    # one that was past the cap): its clock is the older one, never a later one.
    added = record(store, report(setup, day(6), {"vulns": [*remaining, 999]}))
    assert of_kind(added, RecordKind.OPENED) == []
    (summary,) = of_kind(added, RecordKind.OVERFLOW)
    assert summary["count"] == CAP + 1
    # Some fixed: the count says so; all fixed: it closes.
    added = record(store, report(setup, day(7), {"vulns": remaining[:2]}))
    assert [s["count"] for s in of_kind(added, RecordKind.OVERFLOW)] == [2]
    assert of_kind(added, RecordKind.RESOLVED) == []
    added = record(store, report(setup, day(8), {}))
    assert of_kind(added, RecordKind.RESOLVED) == [
        {"finding": finding.id, "run_id": "run", "by": None, "text": None}
    ]


def test_reappearing_violations_open_new_lives(setup: Setup, store: FileStore) -> None:
    for at, items in ((DAY0, range(2 * CAP)), (day(1), range(0)), (day(2), range(2 * CAP))):
        record(store, report(setup, at, {"vulns": items}))
    state = state_at(store, day(2))
    lives = overflow_of(state)
    assert [(f.life, f.live, f.opened_at) for f in lives] == [(1, False, DAY0), (2, True, day(2))]
    assert lives[1].clock.due == day(2) + dt.timedelta(days=30)
    assert sorted(f.life for f in individual(state)) == [1] * CAP + [2] * CAP


def test_a_policy_that_did_not_complete_closes_nothing_past_the_cap(
    setup: Setup, store: FileStore
) -> None:
    record(store, report(setup, DAY0, {"vulns": range(2 * CAP)}))
    for status in (Status.ERROR, Status.NOT_APPLICABLE):
        added = record(store, report(setup, day(1), {}, status=status))
        assert of_kind(added, RecordKind.RESOLVED) == []
    assert all(f.live for f in state_at(store, day(1)).findings.values())


def test_a_recorded_finding_past_the_cap_in_a_later_run_is_still_failing(
    setup: Setup, store: FileStore
) -> None:
    """Run 1 records CAP violations in full. Run 2 adds CAP new ones with smaller
    fingerprints, so run 1's are past the cap now: they have findings of their own and are
    still failing, so they are neither resolved nor counted past the cap."""
    first = sorted(range(2 * CAP), key=lambda i: fp("vulns", i))
    small, large = first[:CAP], first[CAP:]
    record(store, report(setup, DAY0, {"vulns": large}))
    added = record(store, report(setup, day(1), {"vulns": first}))
    assert of_kind(added, RecordKind.RESOLVED) == of_kind(added, RecordKind.OVERFLOW) == []
    assert len(of_kind(added, RecordKind.OPENED)) == CAP
    state = state_at(store, day(1))
    assert overflow_of(state) == [] and all(f.live for f in individual(state))
    # Gone in run 3: resolved as usual.
    added = record(store, report(setup, day(2), {"vulns": small}))
    assert len(of_kind(added, RecordKind.RESOLVED)) == CAP


def test_waivers_past_the_cap(setup: Setup, store: FileStore) -> None:
    """The overflow finding is waived while every violation it follows is."""
    items = range(2 * CAP)
    beyond = [i for i in items if fp("vulns", i) in set(past(2 * CAP))]
    added = record(store, report(setup, DAY0, {"vulns": items}, waived=beyond))
    (summary,) = of_kind(added, RecordKind.OVERFLOW)
    assert summary["waived"] == CAP
    (finding,) = overflow_of(state_at(store, DAY0))
    assert finding.status is FindingStatus.WAIVED and finding.waiver == "W-1"
    added = record(store, report(setup, day(1), {"vulns": items}, waived=beyond[1:]))
    assert len(of_kind(added, RecordKind.UNWAIVED)) == 1
    assert of_kind(added, RecordKind.OVERFLOW)[0]["waived"] == CAP - 1
    added = record(store, report(setup, day(2), {"vulns": items}, waived=beyond))
    assert [w["waiver"]["id"] for w in of_kind(added, RecordKind.WAIVED)] == ["W-1"]


def test_a_waiver_change_of_a_recorded_finding_past_the_cap_is_recorded(
    setup: Setup, store: FileStore
) -> None:
    first = sorted(range(2 * CAP), key=lambda i: fp("vulns", i))
    record(store, report(setup, DAY0, {"vulns": first[CAP:]}))
    added = record(store, report(setup, day(1), {"vulns": first}, waived=[first[-1]]))
    (waived,) = of_kind(added, RecordKind.WAIVED)
    assert waived["finding"] in {f.id for f in individual(state_at(store, day(1)))}


# --------------------------------------------------------------------------- break-fix


def test_break_fix_past_the_cap_blocks_the_release_until_every_one_is_fixed(
    setup: Setup, store: FileStore
) -> None:
    """``pinned`` is under a break-fix clause. What the release decides (``sort_open``)
    and what the ledger records (breached, resolved) agree past the cap too."""
    items = list(range(2 * CAP))
    record(store, report(setup, DAY0, {"pinned": items}))
    beyond = {i for i in items if fp("pinned", i) in set(past(2 * CAP, policy="pinned"))}
    recorded = [i for i in items if i not in beyond]

    def release(failing: list[int], at: dt.datetime) -> tuple[set[str], list[dict[str, Any]]]:
        rep = report(setup, at, {"pinned": failing}, release=True)
        found = open_break_fix(state_at(store, at))
        blocking, quiet = sort_open(found, list(rep.results), Severity.MODERATE)
        assert quiet == ()
        block = release_block(blocking, "ledger")
        assert (block is None) == (not blocking)
        return {f.fingerprint for f in blocking}, record(store, rep)

    # Everything still failing: every finding blocks, the overflow one too, and is breached.
    blocking, added = release(items, day(1))
    assert overflow_fingerprint("pinned") in blocking and len(blocking) == CAP + 1
    assert len(of_kind(added, RecordKind.BREACHED)) == CAP + 1
    # Only what was past the cap fixed: the overflow finding is fixed (resolved), the
    # recorded ones still block.
    blocking, added = release(recorded, day(2))
    assert overflow_fingerprint("pinned") not in blocking and len(blocking) == CAP
    (resolved,) = of_kind(added, RecordKind.RESOLVED)
    assert resolved["finding"] == overflow_of(state_at(store, day(2)), "pinned")[0].id
    assert len(of_kind(added, RecordKind.BREACHED)) == CAP


def test_break_fix_past_the_cap_still_blocks_when_only_the_recorded_ones_are_fixed(
    setup: Setup, store: FileStore
) -> None:
    items = list(range(2 * CAP))
    record(store, report(setup, DAY0, {"pinned": items}))
    beyond = [i for i in items if fp("pinned", i) in set(past(2 * CAP, policy="pinned"))]
    rep = report(setup, day(1), {"pinned": beyond}, release=True)
    blocking, _ = sort_open(
        open_break_fix(state_at(store, day(1))), list(rep.results), Severity.MODERATE
    )
    assert [f.fingerprint for f in blocking] == [overflow_fingerprint("pinned")]
    added = record(store, rep)
    assert len(of_kind(added, RecordKind.RESOLVED)) == CAP
    (breached,) = of_kind(added, RecordKind.BREACHED)
    assert breached["finding"] == overflow_of(state_at(store, day(1)), "pinned")[0].id


# --------------------------------------------------------------------------- the record


def _summary(**changes: Any) -> dict[str, Any]:
    data = {
        "finding": "0" * 16,
        "op": "op",
        "run_id": "run",
        "policy": "vulns",
        "cap": CAP,
        "count": 3,
        "waived": 0,
        "fingerprints": "a" * 64,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def test_the_summary_record_round_trips() -> None:
    entry = Entry(RecordKind.OVERFLOW, DAY0, _summary())
    line = encode(1, "0" * 64, entry)
    back = decode(line)
    assert (back.kind, back.at, dict(back.data)) == (RecordKind.OVERFLOW, DAY0, _summary())
    assert encode(1, "0" * 64, Entry(back.kind, back.at, back.data)) == line


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"count": ...}, "lacks data.count"),
        ({"fingerprints": ...}, "lacks data.fingerprints"),
        ({"count": "3"}, "data.count of a finding.overflow record has the wrong type"),
        ({"count": 3.0}, "data.count of a finding.overflow record has the wrong type"),
        ({"waived": True}, "data.waived of a finding.overflow record has the wrong type"),
        ({"policy": None}, "data.policy of a finding.overflow record has the wrong type"),
        ({"fingerprints": ["a"]}, "data.fingerprints of a finding.overflow"),
    ],
)
def test_a_malformed_summary_is_refused(changes: dict[str, Any], reason: str) -> None:
    line = encode(1, "0" * 64, Entry(RecordKind.OVERFLOW, DAY0, _summary(**changes)))
    with pytest.raises(RecordFormatError, match=re.escape(reason)):
        decode(line)


def _rewrite(folder: Path, edit: Any) -> None:
    """Re-chain the ledger with ``edit`` applied to each record's data (a forger who
    recomputes every hash and the head)."""
    lines = (folder / "records.jsonl").read_bytes().splitlines()
    entries = []
    for line in lines:
        rec = decode(line)
        data = edit(rec.kind, dict(rec.data))
        entries.append(Entry(rec.kind, rec.at, data))
    linked = link(EMPTY, entries)
    (folder / "records.jsonl").write_bytes(linked.data)
    (folder / "head.json").write_bytes(encode_head(Head(linked.head)))


def _verify(folder: Path) -> tuple[int, str]:
    outcome = cli(["ledger", "verify", "--ledger", str(folder)])
    return outcome.code, outcome.output


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"count": 0}, "are not counts"),
        ({"count": -1}, "are not counts"),
        ({"waived": 99}, "are not counts"),
        ({"cap": 0}, "are not counts"),
        ({"fingerprints": "z" * 64}, "not a SHA-256 hex digest"),
        ({"fingerprints": "a" * 63}, "not a SHA-256 hex digest"),
        ({"policy": "other"}, "is not the overflow finding of other"),
        ({"op": "forged"}, "overflow of operation forged, which has no run"),
        ({"finding": "f" * 16}, "was never opened"),
    ],
)
def test_ledger_verify_refuses_a_forged_summary(
    setup: Setup, store: FileStore, edit: dict[str, Any], reason: str
) -> None:
    record(store, report(setup, DAY0, {"vulns": range(2 * CAP)}))
    assert _verify(store.folder)[0] == 0

    def forge(kind: RecordKind, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, **edit} if kind is RecordKind.OVERFLOW else data

    _rewrite(store.folder, forge)
    code, output = _verify(store.folder)
    assert code == 1 and reason in output, output
    assert f"record {CAP + 3}:" in output  # run, CAP openings, the overflow's opening


def test_a_summary_of_a_resolved_overflow_finding_is_refused(
    setup: Setup, store: FileStore
) -> None:
    record(store, report(setup, DAY0, {"vulns": range(2 * CAP)}))
    record(store, report(setup, day(1), {}))
    (summary,) = [
        decode(line) for line in _lines(store) if decode(line).kind is RecordKind.OVERFLOW
    ]
    with (store.folder / "records.jsonl").open("rb") as handle:
        count = len(handle.read().splitlines())
    _rewrite(store.folder, lambda kind, data: data)  # the same ledger, re-chained
    lines = (store.folder / "records.jsonl").read_bytes().splitlines()
    entries = [Entry(r.kind, r.at, r.data) for r in map(decode, lines)]
    entries.append(Entry(RecordKind.OVERFLOW, day(1), summary.data))
    linked = link(EMPTY, entries)
    (store.folder / "records.jsonl").write_bytes(linked.data)
    (store.folder / "head.json").write_bytes(encode_head(Head(linked.head)))
    code, output = _verify(store.folder)
    assert code == 1 and f"record {count + 1}:" in output and "already resolved" in output


def test_an_overflow_fingerprint_opened_for_another_policy_is_refused(
    setup: Setup, store: FileStore
) -> None:
    record(store, report(setup, DAY0, {"vulns": range(2 * CAP)}))

    def forge(kind: RecordKind, data: dict[str, Any]) -> dict[str, Any]:
        if kind is RecordKind.OPENED and data["fingerprint"].startswith("overflow:"):
            return {**data, "policy": "other"}
        return data

    _rewrite(store.folder, forge)
    code, output = _verify(store.folder)
    assert code == 1 and "is not the overflow finding of its policy" in output


def test_an_edited_summary_breaks_the_chain(setup: Setup, store: FileStore) -> None:
    record(store, report(setup, DAY0, {"vulns": range(2 * CAP)}))
    path = store.folder / "records.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"count":5', b'"count":4'))
    code, output = _verify(store.folder)
    assert code == 1 and f"record {CAP + 3}" in output


# --------------------------------------------------------------------------- compatibility


def test_an_operation_queued_by_an_older_version_still_reads(setup: Setup) -> None:
    """Queued before the cap: no overflow, cap or count; every violation in full."""
    op = observe(report(setup, DAY0, {"vulns": range(3)}), CONTEXT, op="op-1")
    old = to_json(op)
    for key in ("overflow", "cap", "violation_count"):
        del old[key]
    back = from_json(old)
    assert back.op == "op-1" and len(back.violations) == 3  # type: ignore[union-attr]
    assert back.overflow == () and back.cap == DEFAULT_CAP  # type: ignore[union-attr]
    assert back.violation_count is None  # type: ignore[union-attr]


def test_an_operation_past_the_cap_round_trips_through_the_queue(setup: Setup) -> None:
    rep = report(setup, DAY0, {"vulns": range(3 * CAP)}, waived=range(3 * CAP))
    op = observe(rep, CONTEXT, op="op-1", cap=CAP)
    assert len(op.violations) == CAP and op.violation_count == 3 * CAP
    (rest,) = op.overflow
    assert list(rest.fingerprints) == past(3 * CAP) and len(rest.waivers) == 2 * CAP
    assert from_json(json.loads(json.dumps(to_json(op)))) == op


def test_observe_refuses_a_cap_below_one(setup: Setup) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        observe(report(setup, DAY0, {}), CONTEXT, cap=0)


def test_findings_views_report_the_count(setup: Setup, store: FileStore) -> None:
    record(store, report(setup, DAY0, {"vulns": range(CAP + 7)}))
    record(store, report(setup, day(1), {"vulns": range(CAP + 3)}))
    state = state_at(store, day(1))
    (finding,) = overflow_of(state)
    document = finding_json(finding)
    # Run 2's violations without a finding of their own: all but the recorded ones.
    recorded = set(sorted(fp("vulns", i) for i in range(CAP + 7))[:CAP])
    now = len([i for i in range(CAP + 3) if fp("vulns", i) not in recorded])
    assert document["past_cap"]["count"] == now
    counts = [e.get("count") for e in document["timeline"] if e["event"] == "overflow"]
    assert counts == [7, now]
    table = findings_table([finding], width=200)
    assert f"vulns: {now} violation(s) past the ledger's cap (latest run)" in table


# --------------------------------------------------------------------------- the setting


def _scan(project: Project, n: int) -> None:
    project.scan(*(f"CVE-{i:04d}" for i in range(n)))


def _config(project: Project, limits: str) -> None:
    text = (project.root / "compliancegate.yaml").read_text(encoding="utf-8")
    project.write("compliancegate.yaml", text + limits)


def test_the_config_sets_the_cap(project: Project) -> None:
    _config(project, "limits: {ledger_findings_per_policy: 3}\n")
    _scan(project, 10)
    assert cli(["check", "--env", "staging"]).code == 1
    lines = (project.root / ".compliancegate/ledger/records.jsonl").read_bytes().splitlines()
    recs = [json.loads(line) for line in lines]
    assert [s["count"] for s in of_kind(recs, RecordKind.OVERFLOW)] == [7]
    assert of_kind(recs, RecordKind.RUN)[0]["violations"] == 10
    listed = cli(["findings", "list", "--format", "json"])
    assert listed.code == 0
    found = json.loads(listed.stdout)["findings"]
    assert len(found) == 4
    assert [f["past_cap"]["count"] for f in found if f["past_cap"]] == [7]
    assert cli(["ledger", "verify"]).code == 0


@pytest.mark.parametrize("value", ["0", "-1", str(MAX_CAP + 1), "ten", "1.5"])
def test_a_bad_cap_in_the_config_is_refused(project: Project, value: str) -> None:
    _config(project, f"limits:\n  ledger_findings_per_policy: {value}\n")
    outcome = cli(["check", "--env", "staging"])
    assert outcome.code == 2, outcome.output
    assert "compliancegate.yaml" in outcome.output and "Traceback" not in outcome.output
    assert not (project.root / ".compliancegate/ledger/records.jsonl").exists()


def test_without_the_setting_the_default_cap_applies(project: Project) -> None:
    from compliancegate.check import Resolved

    assert Resolved.__dataclass_fields__["ledger_cap"].default is None  # DEFAULT_CAP
    assert DEFAULT_CAP == 1000  # documented in docs/ledger.md
    _scan(project, DEFAULT_CAP + 1)
    assert cli(["check", "--env", "staging"]).code == 1
    lines = (project.root / ".compliancegate/ledger/records.jsonl").read_bytes().splitlines()
    recs = [json.loads(line) for line in lines]
    assert [s["count"] for s in of_kind(recs, RecordKind.OVERFLOW)] == [1]
    assert len(of_kind(recs, RecordKind.OPENED)) == DEFAULT_CAP + 1  # and the overflow one


def test_the_largest_cap_is_accepted(project: Project) -> None:
    _config(project, f"limits: {{ledger_findings_per_policy: {MAX_CAP}}}\n")
    _scan(project, 3)
    assert cli(["check", "--env", "staging"]).code == 1
    lines = (project.root / ".compliancegate/ledger/records.jsonl").read_bytes().splitlines()
    assert of_kind([json.loads(line) for line in lines], RecordKind.OVERFLOW) == []


# --------------------------------------------------------------------------- any history

ITEMS = 10
RUN_SETS = st.lists(
    st.tuples(st.frozensets(st.integers(0, ITEMS - 1)), st.booleans()), min_size=1, max_size=7
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(cap=st.integers(1, 4), runs=RUN_SETS, order=st.randoms(use_true_random=False))
def test_any_history_keeps_every_clock_honest(
    setup: Setup, cap: int, runs: list[tuple[frozenset[int], bool]], order: random.Random
) -> None:
    """Whatever fails in which run (``evaluated`` False: the policy ended in error), with
    any cap and any order of the evidence: a violation that fails is followed by an open
    finding (its own or the overflow finding) opened no later than it started failing;
    a finding of its own opens exactly then; nothing stays open that a complete run no
    longer finds; a run opens at most ``cap`` findings with text."""
    state = StateBuilder()
    head = EMPTY
    since: dict[str, dt.datetime] = {}  # each failing item's current streak
    for n, (failing, evaluated) in enumerate(runs):
        at = day(n)
        items = list(failing)
        order.shuffle(items)
        status = None if evaluated else Status.ERROR
        op = observe(report(setup, at, {"vulns": items}, status=status), CONTEXT, cap=cap)
        batch = build_batch(state, head, (), [op])
        head = batch.linked.head
        added = batch.linked.records
        opened = [r.data["fingerprint"] for r in added if r.kind is RecordKind.OPENED]
        assert len([f for f in opened if not f.startswith("overflow:")]) <= cap
        fingerprints = {fp("vulns", i) for i in failing}
        if evaluated:
            since = {f: since.get(f, at) for f in fingerprints}
        else:
            # An error resolves nothing: what it does not report has not been seen fixed.
            since = {**since, **{f: since.get(f, at) for f in fingerprints}}
        frozen = state.freeze(at)
        live = {f.fingerprint: f for f in frozen.live()}
        aggregate = live.get(overflow_fingerprint("vulns"))
        for fingerprint, start in since.items():
            own = live.get(fingerprint)
            if own is not None:
                assert own.opened_at == start
            else:
                assert aggregate is not None and aggregate.opened_at <= start
        if evaluated:
            assert {f for f in live if not f.startswith("overflow:")} <= fingerprints
            assert (aggregate is not None) == any(f not in live for f in fingerprints)
        members = sorted(f for f in fingerprints if f not in live)
        summaries = [r.data for r in added if r.kind is RecordKind.OVERFLOW]
        if members:
            (summary,) = summaries
            assert summary["count"] == len(members)
            assert summary["fingerprints"] == digest(members)
        else:
            assert summaries == []


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cap=st.integers(1, 4),
    runs=st.lists(
        st.tuples(st.frozensets(st.integers(0, ITEMS - 1)), st.frozensets(st.integers(0, 3))),
        min_size=2,
        max_size=6,
    ),
)
def test_any_release_blocks_on_what_the_ledger_records_as_breached(
    setup: Setup, cap: int, runs: list[tuple[frozenset[int], frozenset[int]]]
) -> None:
    """The release's decision (``sort_open`` over ``open_break_fix``) and the records of
    the same run (``finding.breached``) name the same findings, past the cap too."""
    state = StateBuilder()
    head = EMPTY
    for n, (failing, waived) in enumerate(runs):
        at = day(n)
        rep = report(setup, at, {"pinned": sorted(failing)}, release=True)
        if waived:
            policies, _ = setup
            pinned = policies["pinned"]
            results = [
                PolicyResult(
                    r.policy,
                    r.status,
                    tuple(
                        violation(pinned, i, waiver(pinned)) if i in waived else v
                        for i, v in zip(sorted(failing), r.violations, strict=True)
                    ),
                    blocking=r.blocking,
                )
                if r.policy.id == "pinned"
                else r
                for r in rep.results
            ]
            rep = dataclasses.replace(rep, results=tuple(results))
        before = state.freeze(at)
        blocking, quiet = sort_open(open_break_fix(before), list(rep.results), Severity.MODERATE)
        assert quiet == ()
        batch = build_batch(state, head, (), [observe(rep, CONTEXT, cap=cap)])
        head = batch.linked.head
        added = batch.linked.records
        breached = {r.data["finding"] for r in added if r.kind is RecordKind.BREACHED}
        # Left aside, as before the cap: a finding waived until this release, which
        # unwaives it, is recorded as breached but did not block (the release excepts
        # findings the ledger holds waived).
        unwaived = {f.id for f in before.live() if f.status is FindingStatus.WAIVED}
        assert {f.finding for f in blocking} == breached - unwaived


def test_a_git_ledger_records_past_the_cap_from_a_real_process(
    project: Project, remote: Path
) -> None:
    """The whole way: ``python -m compliancegate check`` with the config's cap, a git
    ledger (whose queue holds the operation before the push), then ``ledger verify``."""
    _config(project, "limits: {ledger_findings_per_policy: 2}\n")
    location = f"git:{remote}#ledger"
    _scan(project, 6)
    outcome = cli_subprocess(["check", "--env", "staging", "--ledger", location], project.root)
    assert outcome.code == 1, outcome.output
    _scan(project, 6)
    outcome = cli_subprocess(
        ["check", "--env", "staging", "--ledger", location], project.root, now=day(1)
    )
    assert outcome.code == 1, outcome.output
    text = git("--git-dir", str(remote), "show", "ledger:records.jsonl")
    recs = [json.loads(line) for line in text.splitlines()]
    assert [s["count"] for s in of_kind(recs, RecordKind.OVERFLOW)] == [4, 4]
    assert len(of_kind(recs, RecordKind.OPENED)) == 3 and of_kind(recs, RecordKind.RESOLVED) == []
    assert cli_subprocess(["ledger", "verify", "--ledger", location], project.root).code == 0
    listed = cli_subprocess(["findings", "list", "--ledger", location], project.root, now=day(1))
    assert "no-critical-vulns: 4 violation(s) past the ledger's cap" in listed.stdout


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: {k: v for k, v in d.items() if k != "count"}, "lacks data.count"),
        (lambda d: {**d, "waived": "0"}, "data.waived of a finding.overflow record has the wrong"),
    ],
)
def test_ledger_verify_names_a_malformed_summary(
    setup: Setup, store: FileStore, edit: Any, reason: str
) -> None:
    record(store, report(setup, DAY0, {"vulns": range(2 * CAP)}))
    _rewrite(store.folder, lambda kind, data: edit(data) if kind is RecordKind.OVERFLOW else data)
    code, output = _verify(store.folder)
    assert code == 1 and f"record {CAP + 3}: malformed" in output and reason in output, output
