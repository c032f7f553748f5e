"""Fixtures for the engine tests: compiling conditions, writing policies and artifacts."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.engine.conditions import (
    CompileContext,
    Condition,
    EvalContext,
    compile_condition,
)
from compliancegate.loading.policies import load_policies
from compliancegate.model import Policy

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def ctx() -> EvalContext:
    """The run's clock, fixed."""
    return EvalContext(now=NOW)


@pytest.fixture
def compile_rule(tmp_path: Path) -> Callable[[Any], Condition]:
    """Compile a condition whose ``$ref`` schemas resolve against ``tmp_path``."""

    def compile_(spec: Any) -> Condition:
        return compile_condition(spec, CompileContext(tmp_path))

    return compile_


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented ``text`` to ``tmp_path / name`` (parents created)."""

    def write_(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write_


POLICY_HEADER = """\
apiVersion: compliancegate/v1
kind: Policy
title: Test policy
controls: [std:C-1]
"""


@pytest.fixture
def make_policy(write: Callable[[str, str], Path]) -> Callable[..., Policy]:
    """Write one policy (YAML body after the common header) and load it with the real loader."""
    counter = iter(range(10_000))

    def make(body: str, *, id: str = "p", severity: str = "high") -> Policy:
        text = POLICY_HEADER + f"id: {id}\nseverity: {severity}\n" + textwrap.dedent(body)
        path = write(f"policies/{id}-{next(counter)}.yaml", text)
        (policy,) = load_policies([path]).policies
        return policy

    return make


@pytest.fixture
def store(tmp_path: Path) -> Callable[[], ArtifactStore]:
    """A fresh artifact store over ``tmp_path / "artifacts"`` (created)."""
    root = tmp_path / "artifacts"
    root.mkdir(exist_ok=True)

    def make() -> ArtifactStore:
        return ArtifactStore([root])

    return make
