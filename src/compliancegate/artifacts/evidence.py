"""Audit evidence: a file ``NAME`` (a penetration test report, a signed assessment) described
by a sidecar ``NAME.evidence.yaml`` beside it, normalized to the ``evidence`` kind.

The sidecar says what the file is and when it was collected; its ``sha256`` binds that
description to the file's exact bytes. The hash is checked on every read: a file changed (or
removed) since it was attested is an ``ArtifactError`` naming both files, so every policy
reading it ends in ``error``, which blocks. Evidence that no longer matches its attestation
can never make a policy pass.

The sidecar is validated against ``loading/schemas/evidence.schema.json`` (unknown keys
refused, dates as ISO 8601 strings). A file is a sidecar by its name alone, whatever its
YAML style (block or flow, quoted keys, JSON): one named like a sidecar that is not a valid
one is an error for the evidence policies, never plain YAML they would not see.

``collected_at`` may not lie in the future: evidence dated after the run (beyond
``CLOCK_SKEW``) would never age past a freshness policy, so it is invalid evidence.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from compliancegate.artifacts.digests import TooLarge, sha256_file
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError, LoadError
from compliancegate.model import Artifact

KIND = "evidence"
SUFFIXES = (".evidence.yaml", ".evidence.yml")
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far ``collected_at`` may be ahead of the run's clock (clocks of two machines differ)."""
LATEST_OFFSET = dt.timedelta(hours=14)
"""A date, or a time without a UTC offset, is local to some time zone; the earliest is UTC+14,
so such a value is in the future only once it is ahead there too."""


class Evidence:
    """``NAME.evidence.yaml`` sidecars; the file ``NAME`` must match the sidecar's sha256."""

    name = "evidence"
    kind = KIND
    syntax = "yaml"

    def sniff(self, source: Source) -> bool:
        """Named ``NAME.evidence.yaml`` (or ``.yml``), whatever it holds.

        The name is the contract: looking for a sidecar's keys in the text missed quoted
        keys and flow style, and the file then went unseen by every evidence policy. A file
        so named that is not a valid sidecar is refused by ``parse``, naming it.
        """
        return target_name(source.path) is not None

    def parse(self, source: Source) -> list[Artifact]:
        """One ``evidence`` document, after the described file's SHA-256 is checked."""
        name = target_name(source.path)
        if name is None:
            raise source.error(
                "an evidence sidecar is named NAME.evidence.yaml after the file NAME it describes"
            )
        documents = [d for d in source.yaml if d.data is not None]
        if len(documents) != 1:
            raise source.error(f"expected one evidence document, found {len(documents)}")
        document = documents[0]
        from compliancegate.loading.documents import validate

        try:
            validate("evidence", document, source.display)
        except LoadError as exc:
            raise source.error(exc.message, line=exc.line, hint=exc.hint) from None
        data: dict[str, Any] = document.data
        _check_dates(data, source, document.line_at)
        _check_not_future(data["collected_at"], source, document.line_at(["collected_at"]))
        target = source.path.with_name(name)
        target_display = _sibling_display(source.display, name)
        expected = data["sha256"].lower()
        actual = _sha256(target, target_display, source)
        if actual != expected:
            raise source.error(
                f"evidence changed since it was attested: {target_display} has SHA-256 "
                f"{actual}, but {source.display} attests {expected}",
                line=document.line_at(["sha256"]),
                hint=(
                    "restore the attested file, or collect and attest it again "
                    "(a new sidecar with the new sha256)"
                ),
            )
        source.also_judged.append((target_display, actual))
        normalized = {
            "type": data["type"],
            "collected_at": data["collected_at"],
            "expires": data.get("expires"),
            "source": data.get("source"),
            "sha256": expected,
            "attested_by": data.get("attested_by"),
            "file": target_display,
            "sha256_verified": True,
        }
        return [
            Artifact(
                source.display,
                self.name,
                self.kind,
                self.syntax,
                normalized,
                line=document.start_line,
            )
        ]


def target_name(path: Path) -> str | None:
    """The name of the file a sidecar describes (``report.pdf`` for
    ``report.pdf.evidence.yaml``), or None when ``path`` is not named like a sidecar."""
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _sibling_display(display: str, name: str) -> str:
    """The display path of ``name`` in the same folder as the sidecar shown as ``display``."""
    folder, sep, _ = display.rpartition("/")
    return f"{folder}{sep}{name}"


def _sha256(target: Path, target_display: str, source: Source) -> str:
    """SHA-256 of the described file, streamed, under the artifact size limit."""
    try:
        return sha256_file(target, source.max_bytes)
    except TooLarge:
        raise source.error(
            f"{target_display}, described by {source.display}, is larger than the "
            f"{source.max_bytes:,}-byte artifact limit",
            hint="raise limits.max_artifact_bytes in compliancegate.yaml",
        ) from None
    except IsADirectoryError:
        raise _missing(source, target_display, "is a directory, not a file") from None
    except FileNotFoundError:
        raise _missing(source, target_display, "does not exist") from None
    except PermissionError:
        raise _missing(source, target_display, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise _missing(source, target_display, f"cannot be read ({exc.strerror or exc})") from None


def _missing(source: Source, target_display: str, problem: str) -> ArtifactError:
    return source.error(
        f"evidence changed since it was attested: {target_display}, described by "
        f"{source.display}, {problem}",
        hint=f"put the attested file beside its sidecar as {target_display}",
    )


def _check_dates(data: dict[str, Any], source: Source, line_at: Any) -> None:
    """The schema checks the shape of the dates; this checks that they exist (2026-02-30
    has the shape and is no day)."""
    from compliancegate.engine.durations import parse_instant

    for key in ("collected_at", "expires"):
        if key in data and parse_instant(data[key]) is None:
            raise source.error(f"{key}: {data[key]!r} is not a valid date", line=line_at([key]))


def _check_not_future(value: str, source: Source, line: int | None) -> None:
    """Evidence collected after the run is invalid: it would be fresh forever."""
    from compliancegate.engine.durations import parse_instant

    instant = parse_instant(value)
    if instant is None:  # _check_dates refused it already
        return
    now = source.now or dt.datetime.now(dt.UTC)
    if not _has_offset(value):
        # A local date or time: at the latest it was read at UTC+14.
        instant -= LATEST_OFFSET
    if instant > now + CLOCK_SKEW:
        raise source.error(
            f"collected_at {value} is in the future (the run's clock is "
            f"{now.isoformat(timespec='seconds')}): evidence cannot be collected after it is "
            "checked",
            line=line,
            hint="write the date the evidence was really collected; a clock more than "
            f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes ahead is refused",
        )


def _has_offset(value: str) -> bool:
    """Whether an ISO 8601 date-time says its UTC offset (``Z`` or ``+hh:mm``)."""
    _, sep, time = value.strip().replace(" ", "T", 1).partition("T")
    return bool(sep) and (time.endswith(("Z", "z")) or "+" in time or "-" in time)


FORMAT = Evidence()
