"""The misconfigurations of a Trivy JSON report (``--scanners misconfig``: Kubernetes, Helm,
Terraform, Dockerfile checks), as ``findings``.

Each failed check (``Status: FAIL``; passes and exceptions listed with
``--include-non-failures`` are not problems) is one finding: ``rule_id`` the check's ``ID``
(``KSV-0001``), ``file`` the result's ``Target``, ``line`` the cause's ``StartLine``. Trivy's
severity becomes the SARIF level as Trivy's own SARIF output maps it: critical and high are
``error``, medium ``warning``, low ``note``; a severity Trivy did not know is ``warning``.
A report that also lists vulnerabilities is claimed by ``trivy`` as well.
"""

from __future__ import annotations

from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts.source import Source
from compliancegate.artifacts.trivy import WHAT, results, scan_of
from compliancegate.model import Artifact

_LEVELS = {
    sev.CRITICAL: "error",
    sev.HIGH: "error",
    sev.MODERATE: "warning",
    sev.LOW: "note",
    sev.NONE: "note",
}


class TrivyMisconfig:
    """Trivy JSON misconfigurations."""

    name = "trivy-misconfig"
    kind = "findings"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """A Trivy report with a configuration result or misconfigurations."""
        scan = scan_of(source)
        return scan is not None and scan.misconfigurations

    def parse(self, source: Source) -> list[Artifact]:
        """One finding per failed check of every result."""
        reader = jr.Reader(source, WHAT)
        items: list[dict[str, Any]] = []
        for path, result in results(reader):
            target = jr.text(result.get("Target"))
            for item_path, misconfig in reader.items(
                result.get("Misconfigurations"), f"{path}.Misconfigurations"
            ):
                status = jr.text(misconfig.get("Status"))
                if status is not None and status.upper() != "FAIL":
                    continue
                cause = reader.obj(misconfig.get("CauseMetadata"), f"{item_path}.CauseMetadata")
                severity = sev.from_word(misconfig.get("Severity"))
                items.append(
                    jr.finding(
                        tool="trivy",
                        rule_id=jr.text(misconfig.get("ID")) or jr.text(misconfig.get("AVDID")),
                        level=_LEVELS.get(severity, "warning"),
                        message=jr.text(misconfig.get("Message"))
                        or jr.text(misconfig.get("Title")),
                        file=target,
                        line=jr.line_number(cause.get("StartLine")),
                        fingerprint=None,
                        security_severity=None,
                        suppressed=False,
                        source=source.display,
                    )
                )
        normalized = {"findings": items, "sources": [source.display]}
        return [Artifact(source.display, self.name, self.kind, self.syntax, normalized)]


FORMAT = TrivyMisconfig()
