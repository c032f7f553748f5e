"""Audit evidence: a file ``NAME`` (a penetration test report, a signed assessment) described
by a sidecar ``NAME.evidence.yaml`` beside it, normalized to the ``evidence`` kind.

The sidecar says what the file is and when it was collected; its ``sha256`` binds that
description to the file's exact bytes. The hash is checked on every read: a file changed (or
removed) since it was attested is an ``ArtifactError`` naming both files, so every policy
reading it ends in ``error``, which blocks. Evidence that no longer matches its attestation
can never make a policy pass.

The sidecar is validated against ``loading/schemas/evidence.schema.json`` (unknown keys
refused, dates as ISO 8601 strings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compliancegate.artifacts.digests import TooLarge, sha256_file
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError, LoadError
from compliancegate.model import Artifact

KIND = "evidence"
SUFFIXES = (".evidence.yaml", ".evidence.yml")
_SIDECAR_KEYS = {"sha256", "collected_at", "attested_by", "type"}
"""Top-level keys only an evidence sidecar has together with its name."""


class Evidence:
    """``NAME.evidence.yaml`` sidecars; the file ``NAME`` must match the sidecar's sha256."""

    name = "evidence"
    kind = KIND
    syntax = "yaml"

    def sniff(self, source: Source) -> bool:
        """Named ``*.evidence.yaml`` (or ``.yml``) and holding a sidecar's top-level key,
        however the YAML writes it (quoted keys, flow style), or not readable as YAML.

        A sidecar missing its ``sha256`` is still claimed, so that it is refused by the
        schema rather than read as plain YAML that no evidence policy sees; so is a named
        sidecar that does not parse.
        """
        if target_name(source.path) is None:
            return False
        source.check()
        try:
            documents = source.yaml
        except ArtifactError:
            return True
        return any(isinstance(d.data, dict) and _SIDECAR_KEYS & d.data.keys() for d in documents)

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


FORMAT = Evidence()
