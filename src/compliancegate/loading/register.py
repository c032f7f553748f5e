"""Registers: the standards and controls that apply, and the remediation clocks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from compliancegate.engine.durations import parse_date
from compliancegate.errors import LoadError
from compliancegate.loading.documents import display, read_yaml, validate
from compliancegate.loading.files import find_yaml_files, nothing_found
from compliancegate.model import Control, ControlRef, Register, RegisterMeta, Severity, Standard

DEFAULT_SLA: Mapping[str, Mapping[str, Any]] = {
    "regulatory-change": {"critical": 30, "high": 30, "moderate": 60, "low": 60},
    "security-incident": {
        "notify_within_hours": 0,
        "critical": 30,
        "high": 30,
        "moderate": 90,
        "low": 180,
    },
    "break-fix": {"before": "next-production-release"},
    "audit-finding": {"plan_within_days": 15, "close_within_days": 45},
    "regulatory-sunset": {"lead_days": 90},
}
"""The clocks of SPEC section 3 (FedRAMP Rev5 POA&M for security incidents)."""


def load_register(paths: Iterable[Path]) -> Register:
    """Load and merge register files (directories are searched for ``*.yaml``/``*.yml``).

    A standard id defined twice, or a control id twice within a standard, is a ``LoadError``;
    so are two files that set the same SLA clock to different values.
    """
    metas: list[RegisterMeta] = []
    standards: list[Standard] = []
    seen: dict[str, str] = {}
    sla: dict[str, dict[str, Any]] = {clause: dict(v) for clause, v in DEFAULT_SLA.items()}
    sla_set_by: dict[tuple[str, str], str] = {}
    named = list(paths)
    found = find_yaml_files(named, what="register")
    for path in found.files:
        name = display(path)
        for document in read_yaml(path):
            if document.data is None:
                continue
            validate("register", document, name)
            data = document.data
            meta = data["metadata"]
            metas.append(
                RegisterMeta(
                    name=meta["name"],
                    owner=meta.get("owner"),
                    reviewed=parse_date(meta.get("reviewed")),
                    review_every_days=meta.get("review_every_days"),
                    file=name,
                )
            )
            for clause, clocks in (data.get("sla") or {}).items():
                for key, value in clocks.items():
                    earlier = sla_set_by.get((clause, key))
                    if earlier is not None and sla[clause].get(key) != value:
                        raise LoadError(
                            f"sla.{clause}.{key} is {value!r} here but {sla[clause][key]!r} "
                            f"in {earlier}",
                            file=name,
                            line=document.line_at(["sla", clause, key]),
                            hint="registers that merge must agree on their clocks",
                        )
                    sla[clause][key] = value
                    sla_set_by[(clause, key)] = name
            for i, raw in enumerate(data["standards"]):
                line = document.line_at(["standards", i])
                if raw["id"] in seen:
                    raise LoadError(
                        f"duplicate standard id {raw['id']!r} (first defined in {seen[raw['id']]})",
                        file=name,
                        line=document.line_at(["standards", i, "id"]),
                        subject=raw["id"],
                    )
                seen[raw["id"]] = f"{name}:{line}"
                controls: list[Control] = []
                control_ids: set[str] = set()
                for j, c in enumerate(raw["controls"]):
                    where: list[str | int] = ["standards", i, "controls", j]
                    if c["id"] in control_ids:
                        raise LoadError(
                            f"duplicate control id {c['id']!r} in standard {raw['id']!r}",
                            file=name,
                            line=document.line_at([*where, "id"]),
                            subject=f"{raw['id']}:{c['id']}",
                        )
                    control_ids.add(c["id"])
                    controls.append(
                        Control(
                            standard=raw["id"],
                            id=c["id"],
                            title=c["title"],
                            severity=Severity(c["severity"]),
                            clause=c["clause"],
                            file=name,
                            line=document.line_at(where),
                        )
                    )
                version = raw.get("version")
                standards.append(
                    Standard(
                        id=raw["id"],
                        title=raw["title"],
                        version=None if version is None else str(version),
                        source=raw.get("source"),
                        effective=parse_date(raw.get("effective")),
                        sunset=parse_date(raw.get("sunset")),
                        superseded_by=raw.get("superseded_by"),
                        controls=tuple(controls),
                        file=name,
                        line=line,
                    )
                )
    for standard in standards:
        if standard.superseded_by and standard.superseded_by not in seen:
            raise LoadError(
                f"superseded_by names {standard.superseded_by!r}, which no register defines",
                file=standard.file,
                line=standard.line,
                subject=standard.id,
            )
    if not metas:
        raise nothing_found(named, found, kind="Register", what="registers")
    index = {c.ref: c for s in standards for c in s.controls}
    return Register(
        tuple(metas),
        tuple(standards),
        sla,
        dict[ControlRef, Control](index),
        tuple(display(p) for p in found.hidden),
    )
