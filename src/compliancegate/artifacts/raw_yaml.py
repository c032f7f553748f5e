"""Any YAML stream; each document of a multi-document file is its own artifact."""

from __future__ import annotations

from compliancegate.artifacts.helm import chart_of_template, template_error
from compliancegate.artifacts.interface import RAW_KIND
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact


class RawYaml:
    """YAML handed to policies as parsed (YAML 1.2 booleans, dates kept as strings)."""

    name = "yaml"
    kind = RAW_KIND
    syntax = "yaml"

    def sniff(self, source: Source) -> bool:
        """The raw format is the fallback for its syntax."""
        return True

    def parse(self, source: Source) -> list[Artifact]:
        """One artifact per non-empty document, each with its start line and line marks.

        A file under a Helm chart's ``templates/`` is refused with one message per chart.
        """
        chart = chart_of_template(source.path)
        if chart is not None:
            raise template_error(source, chart)
        return [
            Artifact(
                source.display,
                self.name,
                self.kind,
                self.syntax,
                doc.data,
                index=i,
                line=doc.start_line,
                line_of=doc.line_of,
            )
            for i, doc in enumerate(source.yaml)
            if doc.data is not None
        ]


FORMAT = RawYaml()
