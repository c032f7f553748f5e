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


def test_a_parsed_tree_is_not_left_for_the_collector_to_scan(tmp_path: Path) -> None:
    """After a parse the tree's objects are in the oldest generation: the young count is not
    the tree's size, so the next allocation does not scan 100,000 nodes at once."""
    import json

    path = tmp_path / "x.json"
    path.write_text(json.dumps({"items": [{"a": [i]} for i in range(50_000)]}))
    source = Source(path, "x.json")
    assert len(source.json["items"]) == 50_000
    assert gc.get_count()[0] < 1_000
