"""Safe message templates: dotted lookups only, <missing> for what is not there."""

from __future__ import annotations

from typing import Any

import pytest

from compliancegate.engine.templates import MAX_VALUE_CHARS, MISSING, compile_template

VALUES: dict[str, Any] = {
    "item": {
        "id": "CVE-2024-1234",
        "package": "openssl",
        "version": "3.0.1",
        "fixed": None,
        "score": 9.8,
        "count": 3,
        "kev": True,
        "exploited": False,
        "tags": ["a", "b"],
        "meta": {"name": "web", "labels": {"app": "shop"}},
        "containers": [{"name": "app"}, {"name": "sidecar"}],
        "dashed-key": "dash",
    },
    "document": {"kind": "Deployment", "metadata": {"name": "shop"}},
    "artifact": {"path": "reports/trivy.json", "kind": "vulnerabilities"},
    "policy": {"id": "no-critical", "severity": "critical"},
    "error": "fails image not_contains ':latest'",
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{item.id} in {item.package}@{item.version}", "CVE-2024-1234 in openssl@3.0.1"),
        ("{artifact.path} / {policy.id}", "reports/trivy.json / no-critical"),
        ("{document.kind} {document.metadata.name}", "Deployment shop"),
        ("{error}", "fails image not_contains ':latest'"),
        ("{item.meta.labels.app}", "shop"),
        ("{item.containers.1.name}", "sidecar"),
        ("{item.tags.0}", "a"),
        ("{item.dashed-key}", "dash"),
        ("{ item.id }", "CVE-2024-1234"),
        ("score {item.score}, count {item.count}", "score 9.8, count 3"),
        ("{item.kev}/{item.exploited}", "true/false"),
        ("{item.tags}", '["a", "b"]'),
        ("{item.meta.labels}", '{"app": "shop"}'),
        ("no fields at all", "no fields at all"),
        ("", ""),
    ],
)
def test_render(source: str, expected: str) -> None:
    assert compile_template(source).render(VALUES) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{item.nope}",
        "{item.fixed}",  # null
        "{item.meta.nope.deeper}",
        "{item.id.length}",  # a string has no keys
        "{item.tags.2}",  # out of range
        "{item.tags.-1}",  # no negative indexes
        "{item.containers.name}",  # a list has no keys
        "{item.__class__}",
        "{item.__class__.__init__.__globals__}",
        "{item.meta.__dict__}",
        "{item.keys}",
        "{item.tags.__len__}",
    ],
)
def test_missing_and_attribute_like_fields_render_missing(source: str) -> None:
    assert compile_template(source).render(VALUES) == MISSING


def test_a_root_absent_from_the_values_is_missing() -> None:
    template = compile_template("{artifact.path}: {item.id}")
    assert template.render({"item": {"id": "x"}}) == f"{MISSING}: x"
    assert template.render({}) == f"{MISSING}: {MISSING}"


def test_item_that_is_not_a_mapping() -> None:
    template = compile_template("{item.name} / {item}")
    assert template.render({"item": "just a string"}) == f"{MISSING} / just a string"
    assert template.render({"item": None}) == f"{MISSING} / {MISSING}"


def test_doubled_braces_are_literal() -> None:
    template = compile_template("{{item.id}} is {item.id}; {{ and }}")
    assert template.render(VALUES) == "{item.id} is CVE-2024-1234; { and }"


def test_values_are_not_re_rendered() -> None:
    # A document value that looks like a template stays text.
    values = {"item": {"name": "{policy.id} {item.__class__}"}, "policy": {"id": "p"}}
    assert compile_template("{item.name}").render(values) == "{policy.id} {item.__class__}"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{foo.bar}", "unknown template field"),
        ("{__import__}", "unknown template field"),
        ("{}", "unknown template field"),
        ("{item.a:>10}", "bad template field"),
        ("{item.a!r}", "bad template field"),
        ("{item.a()}", "bad template field"),
        ("{item.a[0]}", "bad template field"),
        ("{item..a}", "bad template field"),
        ("{item.a b}", "bad template field"),
        ("{item.id", "unbalanced brace"),
        ("item.id}", "unbalanced brace"),
        ("{item.{id}}", "unbalanced brace"),
    ],
)
def test_bad_templates_are_rejected(source: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        compile_template(source)


def test_long_values_are_truncated() -> None:
    template = compile_template("<{item.text}>")
    short = "x" * MAX_VALUE_CHARS
    assert template.render({"item": {"text": short}}) == f"<{short}>"
    rendered = template.render({"item": {"text": "y" * 10_000}})
    assert len(rendered) == MAX_VALUE_CHARS + 2
    assert rendered.endswith("…>")
    big_list = compile_template("{item.list}").render({"item": {"list": list(range(5000))}})
    assert len(big_list) == MAX_VALUE_CHARS
    assert big_list.endswith("…")


def test_literal_text_is_not_truncated() -> None:
    text = "z" * (MAX_VALUE_CHARS * 3)
    assert compile_template(text).render({}) == text
