"""Helm charts in the gated tree: a chart's templates are not manifests until Helm renders them.

A file under a ``templates/`` folder that has ``Chart.yaml`` beside it is a template: it holds
``{{ ... }}`` actions, so it is rarely valid YAML, and when it happens to parse, its values are
template text, not what will be deployed. Reading it as a manifest would give one confusing
parse error per file and per policy, or judge the wrong thing; it is refused with one message
per chart that says what to do instead (render the chart, exclude its folder).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

CHART_FILE = "Chart.yaml"


def chart_of_template(path: Path) -> Path | None:
    """The chart folder when ``path`` lies under a chart's ``templates/`` (at any depth, such
    as ``templates/tests/``); None otherwise."""
    # Absolute (not resolved: a link is judged where it is found), so that a file given as
    # `deployment.yaml` from inside templates/ is recognised too.
    for parent in Path(os.path.abspath(path)).parents:
        if parent.name == "templates" and (parent.parent / CHART_FILE).is_file():
            return parent.parent
    return None


def template_error(source: Source, chart: Path) -> ArtifactError:
    """The error for a template of ``chart``: the same text for every template of one chart,
    so a policy that selects several of them reports it once."""
    depth = len(Path(os.path.abspath(source.path)).relative_to(chart).parts)
    parents = PurePosixPath(source.display).parents
    shown = parents[depth - 1].as_posix() if depth <= len(parents) else chart.as_posix()
    name = chart.name
    return ArtifactError(
        f"Helm chart templates are not manifests until rendered ({CHART_FILE} beside "
        "templates/): the gate cannot judge them as written",
        file=f"{shown}/templates/",
        hint=(
            f"render the chart into the release (`helm template RELEASE {shown} > "
            f"{name}.rendered.yaml`) and add `exclude: [{name}]` to compliancegate.yaml "
            "so that its templates are not read"
        ),
    )
