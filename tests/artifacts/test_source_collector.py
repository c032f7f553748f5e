"""Parsing pauses the cyclic garbage collector and always restores it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError


def test_the_collector_is_enabled_again_after_a_parse_and_after_a_failure(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"a": [1, 2, 3]}')
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": [1, 2')
    assert gc.isenabled()
    assert Source(good, "good.json").json == {"a": [1, 2, 3]}
    assert gc.isenabled()
    with pytest.raises(ArtifactError, match="truncated JSON"):
        Source(bad, "bad.json").json  # noqa: B018
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[1]")
    gc.disable()
    try:
        assert Source(path, "x.json").json == [1]
        assert not gc.isenabled()
    finally:
        gc.enable()
