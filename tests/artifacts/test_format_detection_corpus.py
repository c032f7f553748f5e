"""Detection is specific: the SBOM, scanner and SARIF formats claim exactly their own corpus
files (asserted per file in test_cyclonedx, test_spdx, test_trivy, test_grype and
test_sarif) and none of the other real files under tests/fixtures (schemas, JUnit,
coverage, provenance...)."""

from __future__ import annotations

from pathlib import Path

import pytest
from artifact_corpus import FIXTURES, JSON_FORMATS, claimed

OWN = ("sbom", "vulns", "sarif")
OTHERS = sorted(
    path
    for path in FIXTURES.rglob("*")
    if path.is_file()
    and path.relative_to(FIXTURES).parts[0] not in OWN
    and path.name != "SOURCES.md"
)


def test_every_own_corpus_file_is_claimed_by_a_normalized_format() -> None:
    for folder in OWN:
        files = sorted((FIXTURES / folder).iterdir())
        assert files, folder
        for path in files:
            assert set(claimed(path)) <= set(JSON_FORMATS), path
            assert claimed(path), path


@pytest.mark.parametrize("path", OTHERS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_other_fixtures_are_not_claimed(path: Path) -> None:
    assert not set(claimed(path)) & set(JSON_FORMATS)
