"""Kubernetes objects from JSON manifests (``kubectl get -o json``, generated manifests): the
object, or each item of a List. See ``kubernetes.py``."""

from __future__ import annotations

import contextlib

from compliancegate.artifacts.helm import chart_of_template, template_error
from compliancegate.artifacts.interface import RAW_KIND
from compliancegate.artifacts.kubernetes import KIND, looks_like_object, objects
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import Artifact


class KubernetesJson:
    """Kubernetes JSON manifests: one artifact per object."""

    name = "kubernetes-json"
    kind = KIND
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """A manifest: the document looks like an object. A Helm template is claimed, and so
        is a file that cannot be parsed but names ``apiVersion`` near its start (a truncated
        manifest), so the policies reading manifests end in error on it."""
        if chart_of_template(source.path) is not None:
            return True
        try:
            if source.json_parsed:
                # Another format's detection parsed it: no pass over the bytes (two over a
                # 200 MB report cost 0.5 s). A refusal is decided from the bytes, as below.
                with contextlib.suppress(ArtifactError):
                    return looks_like_object(source.json)
            # Parse only what can be a manifest: a decoded "kind" key is either spelled so
            # in the bytes or written with a \u escape. Other JSON (a 200 MB report nothing
            # else reads) is not turned into a tree here.
            if b'"kind"' not in source.data and b"\\u" not in source.data:
                return False
            return looks_like_object(source.json)
        except ArtifactError:
            try:
                return b'"apiVersion"' in source.head
            except ArtifactError:
                return False

    def parse(self, source: Source) -> list[Artifact]:
        """The object, or the items of a List, in order."""
        chart = chart_of_template(source.path)
        if chart is not None:
            raise template_error(source, chart)
        return [
            Artifact(source.display, self.name, RAW_KIND, self.syntax, obj, index=i, line=1)
            for i, obj in enumerate(objects(source.json))
        ]


FORMAT = KubernetesJson()
