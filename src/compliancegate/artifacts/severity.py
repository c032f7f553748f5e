"""Producers' severity words and scores, mapped explicitly onto the register's severities.

Every scanner spells severity its own way (Trivy MEDIUM, Grype Negligible, SARIF
security-severity 7.5); policies see one vocabulary: critical, high, moderate, low, plus
none and unknown. The table is in docs/artifacts.md; a word not in it is ``unknown``, never
guessed.
"""

from __future__ import annotations

from typing import Any

CRITICAL, HIGH, MODERATE, LOW, NONE, UNKNOWN = (
    "critical",
    "high",
    "moderate",
    "low",
    "none",
    "unknown",
)

_WORDS = {
    "critical": CRITICAL,
    "high": HIGH,
    "important": HIGH,  # Red Hat
    "medium": MODERATE,
    "moderate": MODERATE,
    "low": LOW,
    "negligible": LOW,  # Grype, Debian
    "minor": LOW,
    "none": NONE,
    "info": NONE,
    "informational": NONE,
    "unknown": UNKNOWN,
    "unspecified": UNKNOWN,
    "untriaged": UNKNOWN,
}


def from_word(word: Any) -> str:
    """A producer's severity word (any case) as a normalized severity; ``unknown`` otherwise."""
    if not isinstance(word, str):
        return UNKNOWN
    return _WORDS.get(word.strip().lower(), UNKNOWN)


def from_score(score: Any) -> str:
    """A CVSS base score or SARIF ``security-severity`` (0-10) on the CVSS v3 scale:
    9.0+ critical, 7.0+ high, 4.0+ moderate, above 0 low, 0 none; ``unknown`` if not a score.
    """
    if isinstance(score, bool):
        return UNKNOWN
    try:
        value = float(score)
    except (TypeError, ValueError):
        return UNKNOWN
    if not 0.0 <= value <= 10.0:
        return UNKNOWN
    if value >= 9.0:
        return CRITICAL
    if value >= 7.0:
        return HIGH
    if value >= 4.0:
        return MODERATE
    if value > 0.0:
        return LOW
    return NONE


RANK = {CRITICAL: 5, HIGH: 4, MODERATE: 3, LOW: 2, NONE: 1, UNKNOWN: 0}
"""Order of normalized severities, for picking the highest of several ratings."""
