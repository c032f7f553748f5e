"""``--format oscal``: the run as an OSCAL assessment-results document (``docs/oscal.md``).

The document itself is built by ``compliancegate.oscal.assessment``; this reporter adds the
SHA-256 of each artifact the policies read, from the very bytes the run judged (a file the
run did not read whole itself is hashed when the report is rendered: regular files only,
under the artifact size limit; anything else is named without a digest), and serializes
it the way the JSON report does: indented, deterministic, with the characters that could
drive a terminal or a CI log escaped.
"""

from __future__ import annotations

from compliancegate.model import CheckReport


def artifact_digests(paths: set[str]) -> dict[str, str]:
    """SHA-256 (hex) of each path that names a readable regular file."""
    from pathlib import Path

    from compliancegate.artifacts.digests import TooLarge, sha256_file
    from compliancegate.artifacts.source import DEFAULT_MAX_BYTES

    digests = {}
    for path in sorted(paths):
        try:
            digests[path] = sha256_file(Path(path), DEFAULT_MAX_BYTES)
        except (OSError, TooLarge, ValueError):
            continue
    return digests


class OscalReporter:
    """``--format oscal``: OSCAL 1.1 assessment results, valid against NIST's schema."""

    name = "oscal"
    media_type = "application/oscal.assessment-results+json"
    suffix = ".json"

    def render(self, report: CheckReport, *, color: bool = False) -> str:
        """The run's assessment results as indented JSON; ``color`` is ignored."""
        from compliancegate.oscal.assessment import assessment_results
        from compliancegate.reporters.json_report import dumps

        paths = {a for r in report.results for a in r.artifacts}
        judged = dict(report.artifact_digests)
        # The digests of the bytes the run judged; a file hashed now only if the run did not
        # read it whole itself (a report rebuilt from another process's CheckReport).
        digests = {**artifact_digests(paths - judged.keys()), **judged}
        return dumps(
            assessment_results([report], digests={p: digests[p] for p in paths if p in digests})
        )
