"""Evidence sidecars are evidence whatever their YAML style (quoted keys, flow style, JSON,
any key order, any size), and a ``collected_at`` in the future beyond the clock skew is
invalid evidence: an error for the evidence policies naming the file, never a pass."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from pipeline_corpus import detected, gate, parse

from compliancegate.artifacts.evidence import CLOCK_SKEW, LATEST_OFFSET
from compliancegate.artifacts.source import HEAD_BYTES, Source
from compliancegate.errors import ArtifactError
from compliancegate.model import Decision, Status

REPORT = b"%PDF-1.7 access review, signed\n"
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
FIELDS = {
    "type": "access-review",
    "collected_at": "2026-05-20T09:30:00Z",
    "expires": "2026-08-20",
    "source": "IAM export of 2026-05-20",
    "sha256": hashlib.sha256(REPORT).hexdigest(),
    "attested_by": "iso@example.com",
}

FRESH_REVIEW = """\
apiVersion: compliancegate/v1
kind: Policy
id: review-fresh
title: An access review was collected within the last 90 days
controls: []
severity: high
enforcement: block
input: evidence
rule:
  all:
    - {path: type, op: equals, value: access-review}
    - {path: collected_at, op: newer_than, value: 90d}
message: "{item.type} {item.file} collected {item.collected_at}"
"""


def _quoted(fields: dict[str, str], quote: str) -> str:
    return "".join(f"{quote}{k}{quote}: {quote}{v}{quote}\n" for k, v in fields.items())


def _styles(fields: dict[str, str]) -> dict[str, str]:
    reverse = dict(reversed(list(fields.items())))
    flow = "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}\n"
    return {
        "block": "".join(f"{k}: {v}\n" for k, v in fields.items()),
        "double-quoted-keys": _quoted(fields, '"'),
        "single-quoted-keys": _quoted(fields, "'"),
        "flow": flow,
        "flow-multiline": "{\n" + ",\n".join(f"  {k}: {v}" for k, v in fields.items()) + "\n}\n",
        "json": json.dumps(fields),
        "json-sorted-indented": json.dumps(fields, sort_keys=True, indent=2),
        "json-reversed": json.dumps(reverse),
        "pyyaml-flow": yaml.safe_dump(fields, default_flow_style=True),
        "pyyaml-sorted": yaml.safe_dump(fields, sort_keys=True),
        "document-marker": "---\n" + "".join(f"{k}: {v}\n" for k, v in reverse.items()),
        "indented-flow": "   {" + ", ".join(f'"{k}": "{v}"' for k, v in fields.items()) + "}\n",
        # Keys only after a long comment: far past the bytes a prefix sniff reads.
        "padded": "#" + "x" * (HEAD_BYTES + 10) + "\n" + _quoted(fields, '"'),
        "padded-flow": "# " + "pad " * (HEAD_BYTES // 2) + "\n" + flow,
    }


STYLES = _styles(FIELDS)


def _write(folder: Path, text: str, name: str = "review.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(REPORT)
    path = folder / f"{name}.evidence.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_yaml_style_is_evidence(tmp_path: Path, style: str) -> None:
    path = _write(tmp_path / "evidence", STYLES[style])
    assert detected(path) == "evidence"
    (artifact,) = parse(path, "evidence")
    document = artifact.document
    assert {k: document[k] for k in FIELDS} == FIELDS
    assert document["sha256_verified"] is True


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_passes_and_blocks_through_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "evidence", STYLES[style])
    report = gate(tmp_path, FRESH_REVIEW, [tmp_path / "evidence"], now=NOW)
    assert report.decision == Decision.COMPLIANT
    # A stale review in the same style fails: the policy really read it.
    stale = _styles({**FIELDS, "collected_at": "2025-01-01T00:00:00Z"})[style]
    _write(tmp_path / "evidence", stale)
    report = gate(tmp_path, FRESH_REVIEW, [tmp_path / "evidence"], now=NOW)
    assert report.decision == Decision.BLOCKED
    (result,) = report.results
    assert result.status == Status.FAIL


@pytest.mark.parametrize(
    "text",
    [
        "name: something else\n",
        "{}\n",
        "[type, collected_at]\n",
        '{"Type": "access-review"}\n',
        "",
    ],
)
def test_a_file_named_like_a_sidecar_that_is_not_one_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "evidence", text)
    report = gate(tmp_path, FRESH_REVIEW, [tmp_path / "evidence"], now=NOW)
    (result,) = report.results
    assert (result.status, report.decision) == (Status.ERROR, Decision.ERROR)
    assert "review.csv.evidence.yaml" in (result.error or "")


# --------------------------------------------------------------------------- the future


def _at(collected_at: str, now: dt.datetime | None, tmp_path: Path) -> None:
    path = _write(tmp_path, _quoted({**FIELDS, "collected_at": collected_at}, '"'))
    from compliancegate.artifacts.evidence import FORMAT

    FORMAT.parse(Source(path, path.name, now=now))


def _stamp(instant: dt.datetime, form: str) -> str:
    if form == "Z":
        return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == "+05:30":
        zone = dt.timezone(dt.timedelta(hours=5, minutes=30))
        return instant.astimezone(zone).isoformat(timespec="seconds")
    if form == "-08:00":
        return instant.astimezone(dt.timezone(dt.timedelta(hours=-8))).isoformat()
    # No offset: a local time, at the latest UTC+14.
    return (instant + LATEST_OFFSET).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


SECOND = dt.timedelta(seconds=1)


@pytest.mark.parametrize("form", ["Z", "+05:30", "-08:00", "naive"])
@pytest.mark.parametrize(
    ("ahead", "valid"),
    [
        (-dt.timedelta(days=400), True),
        (dt.timedelta(0), True),
        (CLOCK_SKEW - SECOND, True),
        (CLOCK_SKEW, True),
        (CLOCK_SKEW + SECOND, False),
        (CLOCK_SKEW + dt.timedelta(minutes=1), False),
        (dt.timedelta(days=1), False),
        (dt.timedelta(days=365 * 900), False),
    ],
)
def test_collected_at_around_the_clock_skew(
    tmp_path: Path, form: str, ahead: dt.timedelta, valid: bool
) -> None:
    value = _stamp(NOW + ahead, form)
    if valid:
        _at(value, NOW, tmp_path)
        return
    with pytest.raises(ArtifactError) as caught:
        _at(value, NOW, tmp_path)
    error = caught.value
    assert error.file == "review.csv.evidence.yaml"
    assert f"collected_at {value} is in the future" in error.message
    assert error.line == 2


@pytest.mark.parametrize(
    ("date", "now", "valid"),
    [
        # A bare date has begun somewhere once UTC reaches 10:00 of the day before.
        ("2026-06-01", dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC), True),
        ("2026-06-02", dt.datetime(2026, 6, 1, 9, 54, 59, tzinfo=dt.UTC), False),
        ("2026-06-02", dt.datetime(2026, 6, 1, 9, 55, tzinfo=dt.UTC), True),
        ("2026-06-02", dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), True),
        ("2026-06-03", dt.datetime(2026, 6, 1, 23, 59, tzinfo=dt.UTC), False),
        ("2099-01-01", NOW, False),
    ],
)
def test_collected_at_as_a_date(tmp_path: Path, date: str, now: dt.datetime, valid: bool) -> None:
    if valid:
        _at(date, now, tmp_path)
    else:
        with pytest.raises(ArtifactError, match="in the future"):
            _at(date, now, tmp_path)


def test_future_evidence_is_an_error_through_the_gate_not_a_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "evidence", _quoted({**FIELDS, "collected_at": "2126-05-20"}, '"'))
    report = gate(tmp_path, FRESH_REVIEW, [tmp_path / "evidence"], now=NOW)
    (result,) = report.results
    assert (result.status, report.decision) == (Status.ERROR, Decision.ERROR)
    assert "evidence/review.csv.evidence.yaml" in (result.error or "")
    assert "in the future" in (result.error or "")
    # The run's clock decides, not the machine's: the same file a century later is fine
    # (and stale).
    later = gate(
        tmp_path, FRESH_REVIEW, [tmp_path / "evidence"], now=dt.datetime(2126, 9, 1, tzinfo=dt.UTC)
    )
    assert later.results[0].status == Status.FAIL


def test_without_a_run_clock_the_wall_clock_decides(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="in the future"):
        _at("2999-01-01", None, tmp_path)
    _at("2020-01-01", None, tmp_path)
