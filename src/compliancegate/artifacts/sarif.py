"""SARIF 2.1.0 logs (CodeQL, Semgrep, SpotBugs, Gitleaks, Trivy, Grype...): every result of
every run, as ``findings``.

- ``level``: the result's level; else ``none`` for a result whose ``kind`` is not ``fail``
  (a pass or a note for review); else the rule's ``defaultConfiguration.level``; else
  ``warning``, SARIF's default. A level SARIF does not define reads as ``warning``.
- ``message``: ``message.text``, or the rule's (or the tool's global) message string that
  ``message.id`` names, with ``{0}``-style arguments filled in (SpotBugs writes these).
- ``file`` and ``line``: the first location's ``artifactLocation.uri`` (or the run's
  ``artifacts`` entry its ``index`` names), as written, ``uriBaseId`` not resolved, except
  that an absolute ``file://`` URI below the working directory becomes the path relative
  to it (Ruff writes absolute URIs: the file, and so the finding's fingerprint, would change
  with the checkout's folder); and ``region.startLine``.
- ``fingerprint``: the value of the first key (by name) of ``partialFingerprints``, else of
  ``fingerprints``.
- ``security_severity``: the rule's ``security-severity`` property (else the result's) as a
  number; GitHub code scanning reads the same property.
- ``suppressed``: true when the result carries a suppression that is not ``rejected``
  (accepted or under review, as in ``# noqa``-style in-source suppressions). Suppressed
  results are kept: a policy decides whether they count.

Results whose ``baselineState`` is ``absent`` were in the baseline and are gone from this
run (fixed), so they are not findings. Results of rules that carry ``security-severity``
are also read as vulnerabilities by ``sarif-vulnerabilities``.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import sniffing as sn
from compliancegate.artifacts.numbers import whole_number
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

# For content that is not one JSON document (truncated): markers anywhere in the bytes.
_SCHEMA = re.compile(rb'"\$schema"\s*:\s*"[^"]*sarif[^"]*"', re.IGNORECASE)
_VERSION = re.compile(rb'"version"\s*:')
_RUNS = re.compile(rb'"runs"\s*:\s*\[')
_NAMES = (".sarif", ".sarif.json")
_PLACEHOLDER = re.compile(r"\{(\d+)\}")
_LEVELS = ("error", "warning", "note", "none")
VERSION = "2.1.0"
WHAT = "SARIF log"


def sarif_document(source: Source) -> Any:
    """The parsed log when the file looks like SARIF, ``sniffing.UNPARSED`` when it looks
    like SARIF but is not one JSON document, else None.

    It looks like SARIF with a ``.sarif`` (or ``.sarif.json``) name, a ``$schema`` naming
    SARIF, a ``runs`` key beside a ``version``, or ``runs`` holding a run with a ``tool``; in
    any key order and at any size (Bandit writes ``version`` and ``$schema`` last). ``parse``
    refuses what is not SARIF 2.1.0.
    """
    document = sn.json_document(source)
    named = sn.name_ends(source, *_NAMES)
    if document is sn.UNPARSED:
        if (
            named
            or sn.found_in_bytes(source, _SCHEMA)
            or sn.found_in_bytes(source, _VERSION, _RUNS)
        ):
            return document
        return None
    if named:
        return document
    if not isinstance(document, dict):
        return None
    schema = document.get("$schema")
    if isinstance(schema, str) and "sarif" in schema.lower():
        return document
    runs = document.get("runs")
    if "runs" in document and "version" in document:
        return document
    return document if any("tool" in run for run in sn.objects(runs)) else None


def is_sarif(source: Source) -> bool:
    """Whether the file looks like a SARIF log (see ``sarif_document``)."""
    return sarif_document(source) is not None


@dataclass(frozen=True)
class Result:
    """One result of one run, with the rule it reports (an empty mapping when the log
    defines none) and what the run says about its tool and files."""

    path: str
    result: dict[str, Any]
    rule: dict[str, Any]
    tool: str | None
    run: Run


class Run:
    """One run's tool, rules and artifacts, for resolving its results' references."""

    def __init__(self, reader: jr.Reader, run: dict[str, Any], path: str) -> None:
        self.reader = reader
        tool = reader.obj(run.get("tool"), f"{path}.tool")
        self.driver = reader.obj(tool.get("driver"), f"{path}.tool.driver")
        self.tool_name = jr.text(self.driver.get("name"))
        extensions = list(reader.items(tool.get("extensions"), f"{path}.tool.extensions"))
        self.components = [(f"{path}.tool.driver", self.driver), *extensions]
        self.rules = [
            [rule for _, rule in reader.items(component.get("rules"), f"{where}.rules")]
            for where, component in self.components
        ]
        self.artifacts = [a for _, a in reader.items(run.get("artifacts"), f"{path}.artifacts")]
        self._by_id: dict[str, dict[str, Any]] | None = None
        self.results = run.get("results")

    def rule(self, result: dict[str, Any], path: str) -> dict[str, Any]:
        """The rule a result reports: by ``ruleIndex`` / ``rule.index`` in its tool component
        (the driver or the extension ``rule.toolComponent.index`` names), else by id."""
        ref = self.reader.obj(result.get("rule"), f"{path}.rule")
        component_ref = self.reader.obj(ref.get("toolComponent"), f"{path}.rule.toolComponent")
        # toolComponent.index points into tool.extensions; without it, the driver's rules.
        extension = _index(component_ref.get("index"), len(self.components) - 1)
        rules = self.rules[extension + 1 if extension is not None else 0]
        index = _index(result.get("ruleIndex"), len(rules))
        if index is None:
            index = _index(ref.get("index"), len(rules))
        if index is not None:
            return rules[index]
        rule_id = jr.text(result.get("ruleId")) or jr.text(ref.get("id"))
        if rule_id is None:
            return {}
        if self._by_id is None:
            self._by_id = {}
            for component_rules in self.rules:
                for rule in component_rules:
                    found = jr.text(rule.get("id"))
                    if found:
                        self._by_id.setdefault(found, rule)
        # A hierarchical id (``CA2000/1``) reports its parent rule.
        return self._by_id.get(rule_id) or self._by_id.get(rule_id.split("/", 1)[0]) or {}

    def message(self, result: dict[str, Any], rule: dict[str, Any], path: str) -> str | None:
        """The result's message text, message strings and arguments resolved."""
        message = self.reader.obj(result.get("message"), f"{path}.message")
        arguments = message.get("arguments")
        template = jr.text(message.get("text")) or jr.text(message.get("markdown"))
        message_id = jr.text(message.get("id"))
        if template is None and message_id is not None:
            for strings in (rule.get("messageStrings"), self.driver.get("globalMessageStrings")):
                entry = strings.get(message_id) if isinstance(strings, dict) else None
                if isinstance(entry, dict):
                    template = jr.text(entry.get("text")) or jr.text(entry.get("markdown"))
                    if template:
                        break
        if template is None or not isinstance(arguments, list):
            return template
        return _PLACEHOLDER.sub(lambda m: _argument(arguments, m), template)

    def location(self, result: dict[str, Any], path: str) -> tuple[str | None, int | None]:
        """File and line of the result's first physical location."""
        for location_path, location in self.reader.items(
            result.get("locations"), f"{path}.locations"
        ):
            physical = self.reader.obj(
                location.get("physicalLocation"), f"{location_path}.physicalLocation"
            )
            if not physical:
                continue
            artifact = self.reader.obj(
                physical.get("artifactLocation"),
                f"{location_path}.physicalLocation.artifactLocation",
            )
            region = self.reader.obj(
                physical.get("region"), f"{location_path}.physicalLocation.region"
            )
            uri = jr.text(artifact.get("uri"))
            index = _index(artifact.get("index"), len(self.artifacts))
            if uri is None and index is not None:
                listed = self.artifacts[index].get("location")
                uri = jr.text(listed.get("uri")) if isinstance(listed, dict) else None
            return _relative(uri), jr.line_number(region.get("startLine"))
        return None, None


def _relative(uri: str | None) -> str | None:
    """``file:///work/app/src/x.py`` as ``src/x.py`` when the working directory is
    ``/work/app``; any other URI as written."""
    if uri is None or not uri.startswith("file:"):
        return uri
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        return uri
    path = PurePosixPath(urllib.parse.unquote(parts.path))
    for base in _working_directories():
        if path.is_relative_to(base) and path != base:
            return path.relative_to(base).as_posix()
    return uri


def _working_directories() -> tuple[PurePosixPath, ...]:
    """The working directory as named and with its links resolved (a runner's workspace is
    often reached through a link)."""
    here = os.getcwd()
    return tuple(dict.fromkeys((PurePosixPath(here), PurePosixPath(os.path.realpath(here)))))


def _argument(arguments: list[Any], match: re.Match[str]) -> str:
    # SARIF arguments are strings; a placeholder without a usable argument stays as written.
    index = whole_number(match.group(1))
    if index is None:
        return match.group(0)
    value = arguments[index] if index < len(arguments) else None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return match.group()


def _index(value: Any, length: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < length:
        return value
    return None


def results(reader: jr.Reader) -> Iterator[Result]:
    """Every current result of every run (``baselineState: absent`` results are fixed).

    Refuses a log that is not SARIF 2.1.0, and a run whose tool says it did not finish
    (see ``_failure``) and that holds no result: an analysis that did not run is not a
    clean one.
    """
    document = reader.root()
    version = document.get("version")
    if version != VERSION:
        shown = "missing" if version is None else repr(version)[:40]
        raise reader.source.error(
            f"not a {WHAT} that can be read: version is {shown}, expected {VERSION!r}",
            hint="compliancegate reads SARIF 2.1.0, which every current producer writes",
        )
    runs = document.get("runs")
    if not isinstance(runs, list):
        # A log without runs (the tool failed to start) is not evidence of a clean scan.
        raise reader.error("runs", "a list", runs)
    if not runs:
        # SARIF 3.13.4: an empty runs array means no analysis was performed.
        raise reader.source.error(
            "runs is empty: the log records no analysis, so it is not evidence of a clean scan",
            hint="gate the report of an analysis that ran",
        )
    for run_path, run_data in reader.items(runs, "runs"):
        run = Run(reader, run_data, run_path)
        failure = _failure(reader, run_data, run_path)
        if run_data.get("results") is None:
            # SARIF 3.14.23: results absent or null means the tool failed to run or could not
            # determine its results (a clean run writes an empty array); GitHub's upload
            # refuses such a run for the same reason.
            failure = failure or f"{run_path}.results is absent"
            tool = run.tool_name or "the tool"
            raise reader.source.error(
                f"{run_path}: {tool} did not complete its analysis ({failure}): a run without "
                "a results array is not evidence of a clean scan",
                hint="fix the analysis so that it runs to the end, then gate its new report",
            )
        if failure is not None and not run.results:
            tool = run.tool_name or "the tool"
            raise reader.source.error(
                f"{run_path}: {tool} did not complete its analysis ({failure}), and the run "
                "has no results: this is not evidence of a clean scan",
                hint="fix the analysis so that it runs to the end, then gate its new report",
            )
        for path, result in reader.items(run.results, f"{run_path}.results"):
            if jr.text(result.get("baselineState")) == "absent":
                continue
            yield Result(path, result, run.rule(result, path), run.tool_name, run)


_MESSAGE_SHOWN = 200


def _failure(reader: jr.Reader, run: dict[str, Any], path: str) -> str | None:
    """What a run's invocations say went wrong: ``executionSuccessful: false``, or a tool
    execution or configuration notification of level ``error`` (the tool's own message);
    None when nothing."""
    for inv_path, invocation in reader.items(run.get("invocations"), f"{path}.invocations"):
        # Bandit reports a file it could not parse as an error-level *configuration*
        # notification, with executionSuccessful true: both lists count.
        for field in ("toolExecutionNotifications", "toolConfigurationNotifications"):
            for note_path, note in reader.items(invocation.get(field), f"{inv_path}.{field}"):
                if jr.text(note.get("level")) == "error":
                    message = reader.obj(note.get("message"), f"{note_path}.message")
                    said = jr.title(message.get("text"), message.get("markdown")) or "no message"
                    return f"error notification: {said[:_MESSAGE_SHOWN]}"
        if invocation.get("executionSuccessful") is False:
            return f"{inv_path}.executionSuccessful is false"
    return None


def properties(value: dict[str, Any]) -> dict[str, Any]:
    """An object's ``properties`` bag (empty when absent or not an object)."""
    bag = value.get("properties")
    return bag if isinstance(bag, dict) else {}


def security_severity(item: Result) -> float | None:
    """The rule's ``security-severity`` (else the result's), when it is a 0-10 score."""
    for bag in (properties(item.rule), properties(item.result)):
        score = jr.number(bag.get("security-severity"))
        if score is not None and 0.0 <= score <= 10.0:
            return score
    return None


def _level(result: dict[str, Any], rule: dict[str, Any]) -> str:
    level = jr.text(result.get("level"))
    if level is not None:
        return level.lower() if level.lower() in _LEVELS else "warning"
    kind = jr.text(result.get("kind"))
    if kind is not None and kind.lower() != "fail":
        return "none"
    configuration = rule.get("defaultConfiguration")
    default = jr.text(configuration.get("level")) if isinstance(configuration, dict) else None
    if default is not None and default.lower() in _LEVELS:
        return default.lower()
    return "warning"


def _fingerprint(result: dict[str, Any]) -> str | None:
    for field in ("partialFingerprints", "fingerprints"):
        values = result.get(field)
        if isinstance(values, dict):
            # By key name, not by position: the same log with its keys in another order
            # (jq -S) must give the same fingerprint.
            for key in sorted(values):
                found = jr.text(values[key])
                if found:
                    return found
    return None


def _suppressed(reader: jr.Reader, result: dict[str, Any], path: str) -> bool:
    for _, suppression in reader.items(result.get("suppressions"), f"{path}.suppressions"):
        status = jr.text(suppression.get("status"))
        if status is None or status != "rejected":
            return True
    return False


class Sarif:
    """SARIF 2.1.0 results, normalized as ``findings``."""

    name = "sarif"
    kind = "findings"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """A SARIF ``$schema``, or ``version: 2.1.0`` with ``runs``."""
        return is_sarif(source)

    def parse(self, source: Source) -> list[Artifact]:
        """One finding per result of every run."""
        reader = jr.Reader(source, WHAT)
        items: list[dict[str, Any]] = []
        for item in results(reader):
            file, line = item.run.location(item.result, item.path)
            ref = item.result.get("rule")
            rule_id = (
                jr.text(item.result.get("ruleId"))
                or (jr.text(ref.get("id")) if isinstance(ref, dict) else None)
                or jr.text(item.rule.get("id"))
            )
            items.append(
                jr.finding(
                    tool=item.tool,
                    rule_id=rule_id,
                    level=_level(item.result, item.rule),
                    message=item.run.message(item.result, item.rule, item.path),
                    file=file,
                    line=line,
                    fingerprint=_fingerprint(item.result),
                    security_severity=security_severity(item),
                    suppressed=_suppressed(reader, item.result, item.path),
                    source=source.display,
                )
            )
        normalized = {"findings": items, "sources": [source.display]}
        return [Artifact(source.display, self.name, self.kind, self.syntax, normalized)]


FORMAT = Sarif()
