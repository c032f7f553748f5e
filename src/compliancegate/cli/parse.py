"""``compliancegate parse FILE``: print the document(s) a policy sees for a file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from compliancegate.errors import UsageError


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", help="Parse as this format instead of detecting it.")
@click.option("--kind", help="Require the normalized kind (e.g. vulnerabilities, sbom).")
def parse(file: Path, fmt: str | None, kind: str | None) -> int:
    """Print FILE as the JSON document policies evaluate (a JSON list when the file holds
    several documents, such as a multi-document YAML stream)."""
    from compliancegate.artifacts.registry import formats, get_format
    from compliancegate.artifacts.selection import ArtifactStore

    store = ArtifactStore([file])
    entries = store.files
    if len(entries) != 1 or file.is_dir():
        raise UsageError(f"{file}: expected a file, not a directory")
    entry = entries[0]
    if fmt is not None:
        chosen = get_format(fmt)
        if chosen is None:
            raise UsageError(f"unknown format {fmt!r}; known: {', '.join(sorted(formats()))}")
    else:
        # With --kind, any format claiming the file may give it (a CycloneDX SBOM's
        # vulnerabilities); else, and when none does, the detected format.
        chosen = store.format_for(entry, kind) or store.format_of(entry)
        if chosen is None:
            refused = store.unreadable(entry)
            if refused is not None:
                raise refused
            raise UsageError(
                f"{entry.display}: cannot tell the format from the name or content",
                hint="name it with --format (" + ", ".join(sorted(formats())) + ")",
            )
    if kind is not None and kind not in (chosen.kind, chosen.name):
        from compliancegate.artifacts.kinds import KINDS

        if kind not in KINDS and get_format(kind) is None:
            raise UsageError(f"unknown kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        raise UsageError(
            f"{entry.display} is {chosen.name} (kind {chosen.kind}), not {kind}",
            hint="name the format with --format if detection is wrong",
        )
    artifacts = store.artifacts(entry, chosen)
    documents = [a.document for a in artifacts]
    shown = documents[0] if len(documents) == 1 else documents
    # ASCII escapes: a hostile artifact's control and bidi characters must not reach the
    # terminal raw (YAML's .inf and .nan print as Infinity and NaN, as Python reads them).
    click.echo(json.dumps(shown, indent=2, ensure_ascii=True, default=str))
    return 0
