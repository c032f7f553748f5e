"""The fast normalizers give exactly what the reference ones (``reference_normalizers.py``,
the code before issue 10) give: the same items with the same values in the same key order,
or the same error, on the corpus fixtures and on generated reports with every field of
every type."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import reference_normalizers as reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts.registry import formats_for, get_format
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def exact(value: Any) -> Any:
    """``value`` with key order, types and float signs visible (``==`` ignores them)."""
    if isinstance(value, dict):
        return ("dict", [(k, exact(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [exact(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, value)


def outcome(parse: Callable[[Source], Any], path: Path) -> Any:
    try:
        artifacts = parse(Source(path, path.name))
    except ArtifactError as exc:
        return ("error", exc.message, exc.file, exc.line, exc.hint)
    except Exception as exc:  # a parser bug: the store reports it; it must be the same one
        return ("bug", type(exc).__name__, str(exc))
    return [
        (a.path, a.format, a.kind, a.syntax, a.index, a.line, exact(a.document)) for a in artifacts
    ]


def assert_same(name: str, path: Path) -> None:
    fmt = get_format(name)
    assert fmt is not None
    assert outcome(fmt.parse, path) == outcome(getattr(reference, f"{name}_parse"), path)


def _fixtures_of(name: str) -> list[Path]:
    found = []
    for path in sorted(_FIXTURES.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".xml", ".sarif"):
            try:
                if name in [f.name for f in formats_for(Source(path, path.name))]:
                    found.append(path)
            except ArtifactError:
                continue
    return found


@pytest.mark.parametrize("path", _fixtures_of("trivy"), ids=lambda p: p.name)
def test_trivy_fixtures(path: Path) -> None:
    assert_same("trivy", path)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 10.0, 10.000001, 7.5, 11, -1, 2**1100]),
    st.text(max_size=8),
    st.sampled_from(
        [
            "",
            "  ",
            "\u2003",
            "\x1c",
            " CRITICAL ",
            "high",
            "Medium",
            "negligible",
            "1.2.4, 1.3.1",
            " , 1.0",
            "6.0.3.1,",
            "7.5",
            " 9.8 ",
            "NaN",
            "inf",
            "1e400",
            "a  b",
            "a\tb",
            "a\u00a0b",
            " lead",
            "trail ",
            "x" * 199,
            "x" * 200,
            "x " * 120,
            "\ud800",
        ]
    ),
)
_ANY = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


def _field(values: st.SearchStrategy[Any], hostile: bool) -> st.SearchStrategy[Any]:
    # Sometimes anything: a report is hostile input.
    return st.one_of(values, _ANY) if hostile else values


_SCORES = st.one_of(_SCALARS, st.floats(min_value=-1, max_value=11))


def _trivy(hostile: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Trivy reports; ``hostile``: any field, list or object may be of any type."""
    cvss_entry = st.fixed_dictionaries(
        {},
        optional={
            "V3Score": _SCORES,
            "V40Score": _SCORES,
            "V2Score": _SCORES,
            "V3Vector": _SCALARS,
        },
    )
    cvss = st.dictionaries(
        st.sampled_from(["nvd", "redhat", "ghsa", "bitnami"]),
        _field(cvss_entry, hostile),
        max_size=4,
    )
    vulnerability = st.fixed_dictionaries(
        {},
        optional={
            "VulnerabilityID": _SCALARS,
            "PkgName": _SCALARS,
            "InstalledVersion": _SCALARS,
            "FixedVersion": _SCALARS,
            "Severity": _SCALARS,
            "Title": _SCALARS,
            "Description": _SCALARS,
            "CVSS": _field(cvss, hostile),
        },
    )
    result = st.fixed_dictionaries(
        {"Target": _SCALARS},
        optional={
            "Class": st.sampled_from(["os-pkgs", "lang-pkgs"]),
            "Vulnerabilities": _field(
                st.lists(_field(vulnerability, hostile), max_size=6), hostile
            ),
        },
    )
    return st.fixed_dictionaries(
        {"SchemaVersion": st.sampled_from([2, 2, 2, 2, 1, "2", True]) if hostile else st.just(2)},
        optional={
            "ArtifactName": _SCALARS,
            "Results": _field(st.lists(_field(result, hostile), max_size=3), hostile),
        },
    )


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(report=st.one_of(_trivy(hostile=False), _trivy(hostile=True)))
def test_trivy_generated(tmp_path: Path, report: dict[str, Any]) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    assert_same("trivy", path)


@pytest.mark.parametrize("path", _fixtures_of("cyclonedx"), ids=lambda p: p.name)
def test_cyclonedx_fixtures(path: Path) -> None:
    assert_same("cyclonedx", path)


def _cyclonedx(hostile: bool) -> st.SearchStrategy[dict[str, Any]]:
    """CycloneDX BOMs with nested components; ``hostile``: any part of any type."""
    words = st.one_of(
        _SCALARS,
        st.sampled_from(["MIT", "Apache-2.0", "MIT OR GPL-3.0-only", "NOASSERTION", "SHA-256"]),
    )
    license_choice = st.one_of(
        st.fixed_dictionaries({"expression": words}),
        st.fixed_dictionaries(
            {
                "license": _field(
                    st.fixed_dictionaries({}, optional={"id": words, "name": words}), hostile
                )
            }
        ),
    )
    hash_entry = st.fixed_dictionaries(
        {},
        optional={
            "alg": st.one_of(
                words, st.sampled_from(["SHA-1", "sha256", "SHA3-256", "BLAKE2b-256"])
            ),
            "content": st.one_of(words, st.sampled_from(["ABCDEF", " abc ", "e3b0c442"])),
        },
    )

    def component(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {},
            optional={
                "name": words,
                "version": words,
                "purl": words,
                "type": words,
                "publisher": words,
                "supplier": _field(st.fixed_dictionaries({}, optional={"name": words}), hostile),
                "licenses": _field(st.lists(_field(license_choice, hostile), max_size=3), hostile),
                "hashes": _field(st.lists(_field(hash_entry, hostile), max_size=3), hostile),
                "components": _field(children, hostile),
            },
        )

    tree = st.recursive(
        st.lists(component(st.none()), max_size=3),
        lambda children: st.lists(component(children), max_size=3),
        max_leaves=8,
    )
    return st.fixed_dictionaries(
        {"bomFormat": st.sampled_from(["CycloneDX"] * 6 + ["SPDX", 1])},
        optional={
            "specVersion": words,
            "metadata": _field(
                st.fixed_dictionaries(
                    {},
                    optional={"component": _field(st.fixed_dictionaries({"name": words}), hostile)},
                ),
                hostile,
            ),
            "components": _field(tree, hostile),
        },
    )


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@given(bom=st.one_of(_cyclonedx(hostile=False), _cyclonedx(hostile=True)))
def test_cyclonedx_generated(tmp_path: Path, bom: dict[str, Any]) -> None:
    path = tmp_path / "bom.cdx.json"
    path.write_text(json.dumps(bom), encoding="utf-8")
    assert_same("cyclonedx", path)


@pytest.mark.parametrize("path", _fixtures_of("junit"), ids=lambda p: p.name)
def test_junit_fixtures(path: Path) -> None:
    assert_same("junit", path)


_ATTRIBUTE = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6),
    st.sampled_from(
        [
            "",
            " ",
            "0.5",
            "1,234.5",
            "12,34",
            "-1",
            "nan",
            "inf",
            "1e3",
            "7",
            "\u00b2",
            " 12 ",
            "x.py",
        ]
    ),
)
_OUTCOME_TEXT = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "def test():\n>  assert 1 == 2\ntests/test_x.py:25: AssertionError",
            "tests/test_x.py:25: AssertionError\n\n",
            "/abs/test_x.py:3: AssertionError",
            "  \n  first line\nsecond",
            "fail_test.go:6: boom",
        ]
    ),
)


def _xml_attributes(attributes: dict[str, str]) -> str:
    from xml.sax.saxutils import quoteattr

    return "".join(f" {name}={quoteattr(value)}" for name, value in attributes.items())


@st.composite
def _junit_xml(draw: Any) -> str:
    """A JUnit report: nested suites, cases with any outcome children, namespaces,
    comments, attributes with odd values."""
    prefix = draw(st.sampled_from(["", "j:"]))
    namespace = ' xmlns:j="urn:junit"' if prefix else ""

    def case() -> str:
        attributes = draw(
            st.dictionaries(
                st.sampled_from(["name", "classname", "time", "file", "line"]), _ATTRIBUTE
            )
        )
        children = draw(
            st.lists(
                st.sampled_from(
                    [
                        "failure",
                        "error",
                        "skipped",
                        "flakyFailure",
                        "flakyError",
                        "rerunFailure",
                        "rerunError",
                        "system-out",
                        "!--",
                    ]
                ),
                max_size=3,
            )
        )
        inner = ""
        for child in children:
            if child == "!--":
                inner += "<!-- note -->"
                continue
            attrs = draw(
                st.dictionaries(st.sampled_from(["message", "type"]), _ATTRIBUTE, max_size=2)
            )
            text = draw(_OUTCOME_TEXT)
            body = "" if text is None else text.replace("&", "&amp;").replace("<", "&lt;")
            inner += f"<{prefix}{child}{_xml_attributes(attrs)}>{body}</{prefix}{child}>"
        return f"<{prefix}testcase{_xml_attributes(attributes)}>{inner}</{prefix}testcase>"

    def suite(depth: int) -> str:
        parts = []
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            nested = depth < 2 and draw(st.booleans())
            parts.append(suite(depth + 1) if nested else case())
        name = draw(st.one_of(st.none(), _ATTRIBUTE))
        attrs = "" if name is None else _xml_attributes({"name": name})
        return f"<{prefix}testsuite{attrs}>{''.join(parts)}</{prefix}testsuite>"

    root = draw(st.sampled_from(["testsuites", "testsuite", "other"]))
    body = "".join(suite(1) for _ in range(draw(st.integers(min_value=0, max_value=2))))
    declaration = draw(st.sampled_from(["", '<?xml version="1.0" encoding="utf-8"?>\n']))
    return f"{declaration}<{prefix}{root}{namespace}>{body}</{prefix}{root}>"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(report=_junit_xml())
def test_junit_generated(tmp_path: Path, report: str) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(report, encoding="utf-8")
    assert_same("junit", path)


@pytest.mark.parametrize(
    "content",
    [
        b"<testsuite><testcase></testsuite>",
        b"<testsuite>&undefined;</testsuite>",
        b'<?xml version="1.0" encoding="utf-8"?>\n<a>\n<b x="1" x="2"/></a>',
        b"<a>\xff</a>",
        b'<?xml version="1.0" encoding="latin-1"?><a>\xe9</a>',
        b'<?xml version="1.0" encoding="nope"?><a/>',
        b"\xef\xbb\xbf<a>x</a>",
        "<a>é</a>".encode("utf-16"),
        b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
        b"<a/><b/>",
        b"",
        b"<a>" * 50 + b"</a>" * 50,
    ],
)
def test_xml_reads_as_defusedxml_did(
    tmp_path: Path, content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The C parser, used for UTF-8 XML without a DTD, gives the tree and the errors that
    defusedxml gives; anything else is still read by defusedxml."""
    import xml.etree.ElementTree as ET

    from compliancegate.artifacts import source as source_module

    path = tmp_path / "doc.xml"
    path.write_bytes(content)

    def read() -> Any:
        try:
            return ("tree", ET.tostring(Source(path, "doc.xml").xml))
        except ArtifactError as exc:
            return ("error", exc.message, exc.line)

    fast = read()
    monkeypatch.setattr(source_module, "_plain_xml", lambda data: False)
    assert read() == fast
