"""Kubernetes objects from YAML manifests: every object of every document, ``kind: List``
wrappers (``kubectl get -o yaml``) expanded into their items.

The starter Kubernetes policies read ``input: kubernetes``: this format for YAML and
``kubernetes-json`` (``kubernetes_json.py``) for JSON manifests. The objects are handed over
as parsed (their documents are ``raw``, identified by file and position like any raw
document); only Lists are opened. A file under a Helm chart's ``templates/`` is refused with
one message per chart (``helm.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliancegate.artifacts.helm import chart_of_template, template_error
from compliancegate.artifacts.interface import RAW_KIND
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import Artifact

KIND = "kubernetes"
"""What ``input:`` names to read manifests of either syntax."""


def looks_like_object(data: Any) -> bool:
    """A mapping with a ``kind`` string and an ``apiVersion`` or ``metadata``: a Kubernetes
    object or List (Kustomize patches may lack ``apiVersion``)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and ("apiVersion" in data or isinstance(data.get("metadata"), dict))
    )


def _is_list(data: Any) -> bool:
    # `kind: List` (kubectl), or an API list such as DeploymentList (the API server's answer).
    return (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and data["kind"].endswith("List")
        and isinstance(data.get("items"), list)
    )


def objects(data: Any) -> Iterator[Any]:
    """``data`` itself, or the items of a List (Lists inside it opened too, depth first)."""
    pending = [data]
    while pending:
        current = pending.pop()
        if _is_list(current):
            pending.extend(reversed(current["items"]))
        else:
            yield current


class Kubernetes:
    """Kubernetes YAML manifests: one artifact per object."""

    name = KIND
    kind = KIND
    syntax = "yaml"

    def sniff(self, source: Source) -> bool:
        """A manifest: some document looks like an object. A file that cannot be read or
        parsed, or a Helm template, is claimed too, so the policies reading manifests end in
        error on it instead of never seeing it."""
        if chart_of_template(source.path) is not None:
            return True
        try:
            documents = source.yaml
        except ArtifactError:
            return True
        return any(looks_like_object(doc.data) for doc in documents)

    def parse(self, source: Source) -> list[Artifact]:
        """Every object of every non-empty document, with its line."""
        chart = chart_of_template(source.path)
        if chart is not None:
            raise template_error(source, chart)
        out: list[Artifact] = []
        for position, doc in enumerate(source.yaml):
            if doc.data is None:
                continue
            for obj in objects(doc.data):
                # A document that is not a List keeps its position in the stream, as the raw
                # YAML reader numbers it (fingerprints of raw documents include it); the items
                # of a List take the numbers after it.
                index = max(position, out[-1].index + 1) if out else position
                out.append(
                    Artifact(
                        source.display,
                        self.name,
                        RAW_KIND,
                        self.syntax,
                        obj,
                        index=index,
                        line=doc.line_of.get(id(obj), doc.start_line),
                        line_of=doc.line_of,
                    )
                )
        return out


FORMAT = Kubernetes()
