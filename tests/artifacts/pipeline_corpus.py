"""Helpers for the test, coverage, provenance and evidence parser tests: the real corpus files
under ``tests/fixtures/{junit,coverage,provenance}``, parsing with a named format, the
hostile-input property every parser must hold, and running a gate on one policy."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from artifact_corpus import FIXTURES, document, fixture
from artifact_corpus import read_hostile as read_hostile_as
from hypothesis import strategies as st

from compliancegate.artifacts.registry import detect, get_format
from compliancegate.artifacts.source import Source
from compliancegate.check import CheckOptions, run_check
from compliancegate.model import Artifact, CheckReport

# The corpus location and document reading are shared with the SBOM and scanner tests.
__all__ = [
    "FIXTURES",
    "detected",
    "document",
    "fixture",
    "gate",
    "mutated",
    "parse",
    "read_hostile",
]


def parse(path: Path, format_name: str, display: str | None = None) -> list[Artifact]:
    """``path`` parsed as ``format_name``; every document must be plain JSON."""
    fmt = get_format(format_name)
    assert fmt is not None, format_name
    artifacts = fmt.parse(Source(path, display or path.name))
    for artifact in artifacts:
        assert (artifact.format, artifact.kind) == (fmt.name, fmt.kind)
        json.dumps(artifact.document)  # what `compliancegate parse` prints
    return artifacts


def detected(path: Path) -> str | None:
    """The name of the format detected for ``path``, or None."""
    fmt = detect(Source(path, path.name))
    return fmt.name if fmt is not None else None


def read_hostile(path: Path, format_name: str) -> None:
    """Detect ``path`` and parse it as ``format_name``: documents or an ``ArtifactError``
    naming the file, never another exception, and quickly."""
    read_hostile_as(path, (format_name,))


@st.composite
def mutated(draw: Any, original: bytes) -> bytes:
    """``original`` damaged the way real files are: cut short, a range deleted or
    duplicated, random bytes written over or inserted."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["cut", "delete", "duplicate", "overwrite", "insert"]))
        if action == "cut":
            del data[at:]
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif action == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
        elif action == "overwrite":
            noise = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(noise)] = noise
        else:
            data[at:at] = draw(
                st.sampled_from([b"<", b">", b'"', b"{", b"}", b"\x00", b"\xff", b":", b","])
            )
    return bytes(data)


ENTITY_BOMB = textwrap.dedent(
    """\
    <?xml version="1.0"?>
    <!DOCTYPE lolz [
      <!ENTITY lol "lol">
      <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
      <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
      <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
    ]>
    <{root}><testcase name="&lol4;"/></{root}>
    """
)
"""A billion-laughs document with a root element the tests choose."""

EXTERNAL_ENTITY = textwrap.dedent(
    """\
    <?xml version="1.0"?>
    <!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
    <{root}><testcase name="&secret;"/></{root}>
    """
)
"""An XXE document reading a local file."""


def gate(tmp_path: Path, policy: str, paths: list[Path], **options: Any) -> CheckReport:
    """Run a check of one policy (YAML text) on ``paths``, without a ledger."""
    policy_file = tmp_path / "gate-policies" / "policy.yaml"
    policy_file.parent.mkdir(parents=True, exist_ok=True)
    policy_file.write_text(textwrap.dedent(policy), encoding="utf-8")
    return run_check(
        CheckOptions(
            paths=tuple(paths),
            policies=(policy_file,),
            no_ledger=True,
            config=_empty_config(tmp_path),
            **options,
        )
    )


def _empty_config(tmp_path: Path) -> Path:
    # An explicit config, so that a compliancegate.yaml in the working directory is not read.
    config = tmp_path / "gate-policies" / "compliancegate.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("apiVersion: compliancegate/v1\nkind: Config\n", encoding="utf-8")
    return config
