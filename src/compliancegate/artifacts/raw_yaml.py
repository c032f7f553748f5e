"""Any YAML stream; each document of a multi-document file is its own artifact."""

from __future__ import annotations

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
        """One artifact per non-empty document, each with its start line and line marks."""
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
