"""Violations past the ledger's cap: one finding per policy stands for them.

A run writes at most ``cap`` ``finding.opened`` records per policy (the violations with the
smallest fingerprints, so the same ones are chosen whatever order the evidence lists them
in). A policy's other failing violations without a finding of their own are its **overflow**:
they are followed together by one finding (its fingerprint ``overflow:POLICY``), whose
clock starts at the first run that had any and stops at the first run that evaluated the
policy and had none. Each run that has some writes one ``finding.overflow`` record for the
policy: how many there were, how many were waived, and the SHA-256 of their sorted
fingerprints. Their text (message, location) is never written: a run with a million
violations adds a few thousand records, and the runs after it replay those.

While a policy's overflow finding is open, a violation of the policy without a finding of
its own joins it rather than opening one: the ledger keeps a count and a digest, not which
violations were past the cap, so it cannot tell a new violation from one that was already
failing; the older clock is the one that cannot be late (docs/ledger.md, "Runs past the
cap").
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from compliancegate.ledger.clocks import Clock
from compliancegate.model import Severity

DEFAULT_CAP = 1000
"""Violations of one policy a run records with their full text (``finding.opened``)."""
MAX_CAP = 100_000
"""The largest cap the config may set (``limits: {ledger_findings_per_policy: N}``): the
config is as trusted as the pull request that edits it, and a cap is what bounds a run's
records."""

PREFIX = "overflow:"
"""Fingerprints of overflow findings; violation fingerprints are SHA-256 hex digests and
manual findings' start with ``manual:``, so neither can collide with them."""


def overflow_fingerprint(policy: str) -> str:
    """The fingerprint of the finding that follows ``policy``'s violations past the cap."""
    return PREFIX + policy


def is_overflow(fingerprint: str) -> bool:
    """Whether ``fingerprint`` is an overflow finding's."""
    return fingerprint.startswith(PREFIX)


def overflow_policy(fingerprint: str) -> str:
    """The policy of an overflow finding's fingerprint."""
    return fingerprint[len(PREFIX) :]


def digest(fingerprints: Iterable[str]) -> str:
    """SHA-256 (hex) of ``fingerprints`` (sorted by the caller), each followed by a newline:
    anyone holding the run's report can recompute it."""
    hasher = hashlib.sha256()
    chunk: list[str] = []
    for fingerprint in fingerprints:
        chunk.append(fingerprint)
        if len(chunk) == 65536:
            hasher.update(("\n".join(chunk) + "\n").encode())
            chunk.clear()
    if chunk:
        hasher.update(("\n".join(chunk) + "\n").encode())
    return hasher.hexdigest()


@dataclass(frozen=True)
class PolicyOverflow:
    """A policy's failing violations past the cap in one run: fingerprints, no text."""

    policy: str
    fingerprints: tuple[str, ...]
    """Sorted, distinct; each larger than every fingerprint the run records in full."""
    waivers: Mapping[str, tuple[str, dt.date | None]]
    """The waived ones: fingerprint to (waiver id, expiry)."""
    controls: tuple[str, ...]
    """Every control any of them breaks (the overflow finding's clock is the strictest)."""
    severity: Severity
    """The highest severity among them."""
    kind: str
    """The artifact kind of the first of them."""
    clock: Clock
    """The deadlines an overflow finding opened by this run gets."""
