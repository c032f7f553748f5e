"""Inputs of the gate benchmark: realistic evidence and the same rules three times.

``python benchmarks/gate_inputs.py DIR --kind trivy --items N --policies P`` writes into DIR:

- ``evidence/``: one artifact of N items, shaped like the real producer's output (a Trivy
  JSON report copied field by field from ``tests/fixtures/vulns/trivy-pip.json``, a
  CycloneDX 1.6 SBOM, a JUnit XML report as pytest and Surefire write it);
- ``policies/bench.yaml``: P compliancegate policies, and ``compliancegate.yaml`` + a copy of
  the register to run them;
- ``policy.rego``: the same P rules in Rego, conftest style (``package main``,
  ``deny contains msg if``), over the **raw** producer document (what conftest or an OPA
  sidecar would be handed; the engine parses and walks the producer's own shape, as
  compliancegate does before normalizing);
- ``rules.json``: the rules as data, for the hand-written floor loop.

Every policy's message (and every Rego ``msg``) is ``POLICY|identity`` so the three verdicts,
the set of denied item identities per policy, can be compared exactly. Generation is
deterministic (a fixed seed) and runs in its own process, so the benchmark's parent never
holds the big documents (a child's peak RSS on Linux starts at its parent's high-water mark).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261201

# Package families of a real image scan (Debian base, Python, Node and Go dependencies).
FAMILIES = [
    "libssl", "openssl", "libc6", "libcurl", "zlib1g", "libxml2", "python3", "perl",
    "systemd", "libgnutls", "bash", "coreutils", "tar", "gzip", "libpng", "libjpeg",
    "libtiff", "nghttp2", "sqlite3", "expat", "krb5", "libx11", "glib2", "ncurses",
    "util-linux", "shadow", "libpam", "apt", "dpkg", "e2fsprogs", "django", "flask",
    "requests", "urllib3", "jinja2", "lodash", "axios", "express", "golang.org/x/net",
    "github.com/gin-gonic/gin",
]  # fmt: skip
SUFFIXES = ["", "-dev", "-common", "-bin", "-data", "3", "-utils", "-runtime"]

# Trivy's targets and the share of findings each holds in a typical image scan.
TARGETS = [
    ("registry.example/shop/api:1.42 (debian 12.5)", "os-pkgs", "debian", 40),
    ("app/requirements.txt", "lang-pkgs", "pip", 12),
    ("web/package-lock.json", "lang-pkgs", "npm", 14),
    ("svc/go.mod", "lang-pkgs", "gomod", 8),
    ("usr/local/bin/helper", "lang-pkgs", "gobinary", 6),
    ("opt/app/lib/app.jar", "lang-pkgs", "jar", 8),
    ("srv/worker/Pipfile.lock", "lang-pkgs", "pipenv", 6),
    ("srv/ui/yarn.lock", "lang-pkgs", "yarn", 6),
]
# Trivy's word for each normalized severity (docs/artifacts.md, "Severity mapping").
TRIVY_SEVERITY = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "moderate": "MEDIUM",
    "low": "LOW",
    "unknown": "UNKNOWN",
}
SEVERITY_SHARE = [("critical", 5), ("high", 25), ("moderate", 40), ("low", 25), ("unknown", 5)]
LICENSES = ["MIT", "Apache-2.0", "BSD-3-Clause", "ISC", "GPL-3.0-only", "LGPL-2.1-only",
            "MPL-2.0", "AGPL-3.0-only", "BSD-2-Clause", "GPL-2.0-only"]  # fmt: skip
THRESHOLDS = [["critical"], ["critical", "high"], ["critical", "high", "moderate"]]


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in table], [weight for _, weight in table])[0]


def package_name(i: int) -> str:
    """The i-th package: a family and a suffix, about 320 distinct names."""
    return FAMILIES[i % len(FAMILIES)] + SUFFIXES[(i // len(FAMILIES)) % len(SUFFIXES)]


def trivy(n: int) -> dict[str, Any]:
    """A Trivy JSON report (SchemaVersion 2) with ``n`` vulnerabilities over 8 targets, each
    finding with every field a real report carries (references, CVSS, vendor severities,
    layer, data source)."""
    rng = random.Random(SEED)
    targets: list[dict[str, Any]] = [
        {"Target": name, "Class": cls, "Type": typ, "Vulnerabilities": []}
        for name, cls, typ, _ in TARGETS
    ]
    weights = [share for *_, share in TARGETS]
    for i in range(n):
        t = rng.choices(range(len(TARGETS)), weights)[0]
        pkg = package_name(rng.randrange(320))
        version = f"{rng.randrange(1, 9)}.{rng.randrange(30)}.{rng.randrange(20)}"
        severity = _weighted(rng, SEVERITY_SHARE)
        year = 2016 + i % 10
        vid = f"CVE-{year}-{10000 + i // 3}"
        finding: dict[str, Any] = {
            "VulnerabilityID": vid,
            "PkgID": f"{pkg}@{version}",
            "PkgName": pkg,
            "PkgIdentifier": {
                "PURL": f"pkg:{TARGETS[t][2]}/{pkg}@{version}",
                "UID": f"{rng.getrandbits(64):016x}",
            },
            "InstalledVersion": version,
        }
        if rng.random() < 0.6:
            finding["FixedVersion"] = f"{version}-1+deb12u{rng.randrange(1, 9)}"
            finding["Status"] = "fixed"
        else:
            finding["Status"] = "affected"
        if TARGETS[t][1] == "os-pkgs":
            finding["Layer"] = {
                "Digest": f"sha256:{rng.getrandbits(256):064x}",
                "DiffID": f"sha256:{rng.getrandbits(256):064x}",
            }
        score = {"critical": 9.8, "high": 7.5, "moderate": 5.3, "low": 3.1, "unknown": 0.0}
        finding.update(
            {
                "SeveritySource": "nvd",
                "PrimaryURL": f"https://avd.aquasec.com/nvd/{vid.lower()}",
                "DataSource": {
                    "ID": "debian",
                    "Name": "Debian Security Tracker",
                    "URL": "https://salsa.debian.org/security-tracker-team/security-tracker",
                },
                "Fingerprint": f"sha256:{rng.getrandbits(256):064x}",
                "Title": f"{pkg}: improper input validation in parser allows denial of service",
                "Description": (
                    f"A flaw was found in {pkg} before {version}. A remote attacker could send"
                    " crafted input that triggers an out-of-bounds read, leading to a crash"
                    " or disclosure of memory contents."
                ),
                "Severity": TRIVY_SEVERITY[severity],
                "CweIDs": [f"CWE-{rng.choice([20, 125, 787, 416, 400, 476])}"],
                "VendorSeverity": {"nvd": rng.randrange(1, 5), "redhat": rng.randrange(1, 5)},
                "CVSS": {
                    "nvd": {
                        "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
                        "V3Score": score[severity],
                    }
                },
                "References": [
                    f"https://access.redhat.com/security/cve/{vid}",
                    f"https://nvd.nist.gov/vuln/detail/{vid}",
                    f"https://security-tracker.debian.org/tracker/{vid}",
                    f"https://ubuntu.com/security/notices/USN-{rng.randrange(4000, 7000)}-1",
                ],
                "PublishedDate": f"{year}-0{1 + i % 9}-1{i % 10}T15:15:00Z",
                "LastModifiedDate": f"{year}-1{i % 3}-0{1 + i % 9}T00:15:00Z",
            }
        )
        targets[t]["Vulnerabilities"].append(finding)
    return {
        "SchemaVersion": 2,
        "Trivy": {"Version": "0.57.1"},
        "ReportID": "019355f0-8e8d-7e0b-a5d8-2f1c4d7b9e11",
        "CreatedAt": "2026-11-30T09:12:44.000000Z",
        "ArtifactName": "registry.example/shop/api:1.42",
        "ArtifactType": "container_image",
        "Metadata": {"OS": {"Family": "debian", "Name": "12.5"}, "ImageID": "sha256:" + "ab" * 32},
        "Results": [t for t in targets if t["Vulnerabilities"]],
    }


def trivy_rules(count: int) -> list[dict[str, Any]]:
    """``count`` rules cycling over the issue's three kinds: a severity threshold and a fix
    available (each scoped to one of Trivy's targets, as teams gate each ecosystem
    differently) and a banned package prefix (over every target)."""
    rules: list[dict[str, Any]] = []
    for i in range(count):
        target = TARGETS[(i // 3) % len(TARGETS)][0]
        if i % 3 == 0:
            levels = THRESHOLDS[(i // 3) % len(THRESHOLDS)]
            rules.append({"id": f"bench-{i:03d}", "kind": "severity", "target": target,
                          "levels": levels})  # fmt: skip
        elif i % 3 == 1:
            level = ["critical", "high", "moderate", "low"][(i // 3) % 4]
            rules.append({"id": f"bench-{i:03d}", "kind": "fix", "target": target,
                          "level": level})  # fmt: skip
        else:
            prefix = FAMILIES[(i // 3 * 7) % len(FAMILIES)]
            rules.append({"id": f"bench-{i:03d}", "kind": "prefix", "prefix": prefix})
    return rules


def _yaml_str(value: str) -> str:
    return json.dumps(value)


def trivy_policy(rule: dict[str, Any]) -> str:
    """One compliancegate policy (docs/policy-language.md) for a rule of ``trivy_rules``."""
    kind = rule["kind"]
    if kind == "severity":
        title = f"No {'/'.join(rule['levels'])} vulnerability in {rule['target']}"
        where = f"where: {{path: target, op: equals, value: {_yaml_str(rule['target'])}}}"
        levels = ", ".join(rule["levels"])
        assert_ = f"assert: {{path: severity, op: not_in, value: [{levels}]}}"
    elif kind == "fix":
        title = f"No {rule['level']} vulnerability with a fix in {rule['target']}"
        where = f"where: {{path: target, op: equals, value: {_yaml_str(rule['target'])}}}"
        assert_ = (
            f"assert: {{not: {{all: [{{path: severity, op: equals, value: {rule['level']}}},"
            " {path: fixed_version, op: exists}]}}"
        )
    else:
        title = f"No vulnerable package named {rule['prefix']}*"
        where = ""
        pattern = "^" + re.escape(rule["prefix"])
        assert_ = f"assert: {{not: {{path: package, op: matches, value: {_yaml_str(pattern)}}}}}"
    rule_lines = "  for_each: vulnerabilities\n" + (f"  {where}\n" if where else "")
    return (
        "apiVersion: compliancegate/v1\nkind: Policy\n"
        f"id: {rule['id']}\ntitle: {_yaml_str(title)}\n"
        "controls: [nist-800-53-r5:RA-5]\nseverity: high\nenforcement: block\n"
        "input: vulnerabilities\nrequired: false\n"
        'key: "[id, package, version]"\n'
        f"rule:\n{rule_lines}  {assert_}\n"
        f'message: "{rule["id"]}|{{item.id}}|{{item.package}}|{{item.version}}"\n'
    )


def trivy_rego(rule: dict[str, Any]) -> str:
    """The same rule in Rego over the raw Trivy report."""
    kind = rule["kind"]
    body = ["some result in input.Results"]
    if kind in ("severity", "fix"):
        body.append(f"result.Target == {json.dumps(rule['target'])}")
    body.append("some v in result.Vulnerabilities")
    if kind == "severity":
        words = ", ".join(json.dumps(TRIVY_SEVERITY[level]) for level in rule["levels"])
        body.append(f"v.Severity in {{{words}}}")
    elif kind == "fix":
        body.append(f"v.Severity == {json.dumps(TRIVY_SEVERITY[rule['level']])}")
        body.append('v.FixedVersion != ""')
    else:
        body.append(f"startswith(v.PkgName, {json.dumps(rule['prefix'])})")
    body.append(
        f'msg := sprintf("{rule["id"]}|%s|%s|%s",'
        " [v.VulnerabilityID, v.PkgName, v.InstalledVersion])"
    )
    return "deny contains msg if {\n" + "".join(f"\t{line}\n" for line in body) + "}\n"


def cyclonedx(n: int) -> dict[str, Any]:
    """A CycloneDX 1.6 SBOM with ``n`` components (npm, PyPI and Debian), each with a
    license, hashes, a supplier and external references, as syft and cdxgen write them."""
    rng = random.Random(SEED)
    components = []
    for i in range(n):
        name = f"{package_name(i % 320)}-{i // 320}"
        version = f"{rng.randrange(1, 9)}.{rng.randrange(30)}.{rng.randrange(20)}"
        eco = ["npm", "pypi", "deb"][i % 3]
        components.append(
            {
                "type": "library",
                "bom-ref": f"pkg:{eco}/{name}@{version}?id={i}",
                "supplier": {"name": f"{name} maintainers"},
                "name": name,
                "version": version,
                "description": f"The {name} library.",
                "licenses": [{"license": {"id": rng.choice(LICENSES)}}],
                "hashes": [{"alg": "SHA-256", "content": f"{rng.getrandbits(256):064x}"}],
                "purl": f"pkg:{eco}/{name}@{version}",
                "externalReferences": [
                    {"type": "website", "url": f"https://example.org/{name}"},
                    {"type": "vcs", "url": f"https://git.example.org/{name}.git"},
                ],
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2026-11-30T09:12:44Z",
            "tools": {"components": [{"type": "application", "name": "syft", "version": "1.18"}]},
            "component": {"type": "application", "name": "shop-api", "version": "1.42"},
        },
        "components": components,
    }


def sbom_rules(count: int) -> list[dict[str, Any]]:
    """Alternately a banned component prefix and a banned license."""
    rules: list[dict[str, Any]] = []
    for i in range(count):
        if i % 2 == 0:
            prefix = FAMILIES[(i // 2 * 7) % len(FAMILIES)]
            rules.append({"id": f"bench-{i:03d}", "kind": "prefix", "prefix": prefix})
        else:
            license_id = ["GPL-3.0-only", "AGPL-3.0-only", "GPL-2.0-only", "LGPL-2.1-only"][
                (i // 2) % 4
            ]
            rules.append({"id": f"bench-{i:03d}", "kind": "license", "license": license_id})
    return rules


def sbom_policy(rule: dict[str, Any]) -> str:
    """A compliancegate policy on the normalized ``sbom`` kind."""
    if rule["kind"] == "prefix":
        title = f"No component named {rule['prefix']}*"
        pattern = "^" + re.escape(rule["prefix"])
        assert_ = f"{{not: {{path: name, op: matches, value: {_yaml_str(pattern)}}}}}"
    else:
        title = f"No component licensed {rule['license']}"
        assert_ = f"{{path: licenses, op: not_contains, value: {rule['license']}}}"
    return (
        "apiVersion: compliancegate/v1\nkind: Policy\n"
        f"id: {rule['id']}\ntitle: {_yaml_str(title)}\n"
        "controls: [nist-800-53-r5:CM-8]\nseverity: moderate\nenforcement: block\n"
        "input: sbom\nrequired: false\nkey: purl\n"
        f"rule:\n  for_each: components\n  assert: {assert_}\n"
        f'message: "{rule["id"]}|{{item.name}}@{{item.version}}"\n'
    )


def sbom_rego(rule: dict[str, Any]) -> str:
    """The same rule in Rego over the raw CycloneDX document."""
    body = ["some c in input.components"]
    if rule["kind"] == "prefix":
        body.append(f"startswith(c.name, {json.dumps(rule['prefix'])})")
    else:
        body.append("some l in c.licenses")
        body.append(f"l.license.id == {json.dumps(rule['license'])}")
    body.append(f'msg := sprintf("{rule["id"]}|%s@%s", [c.name, c.version])')
    return "deny contains msg if {\n" + "".join(f"\t{line}\n" for line in body) + "}\n"


def junit(n: int) -> str:
    """A JUnit XML report of ``n`` cases in suites of 200, as pytest and Surefire write it:
    about 3% failures, 1% errors, 1% skipped, each outcome with a message and a trace."""
    rng = random.Random(SEED)
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="shop-api">\n']
    for start in range(0, n, 200):
        cases = []
        for i in range(start, min(n, start + 200)):
            classname = f"tests.{package_name(i % 320).replace('/', '.')}.test_module{i // 320}"
            name = f"test_case_{i}"
            roll = rng.random()
            head = (
                f"<testcase classname={quoteattr(classname)} name={quoteattr(name)}"
                f' time="{rng.random():.3f}"'
            )
            if roll < 0.03:
                body = (
                    '<failure message="AssertionError: assert 1 == 2">'
                    f"def {name}():\n&gt;       assert 1 == 2\nE       assert 1 == 2\n"
                    f"\ntests/test_module.py:{i % 400 + 1}: AssertionError</failure>"
                )
            elif roll < 0.04:
                body = (
                    "<error message=\"fixture 'db' not found\">"
                    f"file tests/conftest.py, line {i % 90 + 1}</error>"
                )
            elif roll < 0.05:
                body = '<skipped message="needs network" type="pytest.skip"/>'
            else:
                cases.append(head + "/>")
                continue
            cases.append(f"{head}>{body}</testcase>")
        parts.append(
            f'  <testsuite name="suite-{start // 200}" tests="{len(cases)}">\n    '
            + "\n    ".join(cases)
            + "\n  </testsuite>\n"
        )
    parts.append("</testsuites>\n")
    return "".join(parts)


def junit_rules(count: int) -> list[dict[str, Any]]:
    """A failed or errored test under a class prefix blocks (one prefix per team)."""
    return [
        {
            "id": f"bench-{i:03d}",
            "kind": "failing",
            "prefix": "tests." + FAMILIES[(i * 7) % len(FAMILIES)].replace("/", "."),
        }
        for i in range(count)
    ]


def junit_policy(rule: dict[str, Any]) -> str:
    """A compliancegate policy on the normalized ``tests`` kind."""
    pattern = "^" + re.escape(rule["prefix"])
    return (
        "apiVersion: compliancegate/v1\nkind: Policy\n"
        f"id: {rule['id']}\ntitle: {_yaml_str('Tests under ' + rule['prefix'] + ' pass')}\n"
        "controls: [nist-800-53-r5:SA-11]\nseverity: high\nenforcement: block\n"
        "input: tests\nrequired: false\n"
        "rule:\n  for_each: cases\n"
        "  assert: {not: {all: [{path: status, op: in, value: [failed, error]},"
        f" {{path: classname, op: matches, value: {_yaml_str(pattern)}}}]}}}}\n"
        f'message: "{rule["id"]}|{{item.classname}}::{{item.name}}"\n'
    )


KINDS = {
    # kind: (file name, document, rules, policy, rego or None: Rego engines read JSON only)
    "trivy": ("trivy-report.json", trivy, trivy_rules, trivy_policy, trivy_rego),
    "sbom": ("sbom.cdx.json", cyclonedx, sbom_rules, sbom_policy, sbom_rego),
    "junit": ("junit.xml", junit, junit_rules, junit_policy, None),
}


def write_case(folder: Path, kind: str, items: int, policies: int) -> Path:
    """Writes one case (see the module docstring) into ``folder``; returns the artifact."""
    name, make, make_rules, make_policy, make_rego = KINDS[kind]
    (folder / "evidence").mkdir(parents=True, exist_ok=True)
    (folder / "policies").mkdir(exist_ok=True)
    (folder / "registers").mkdir(exist_ok=True)
    artifact = folder / "evidence" / name
    document = make(items)
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    artifact.write_text(text, encoding="utf-8")
    rules = make_rules(policies)
    (folder / "rules.json").write_text(json.dumps({"kind": kind, "rules": rules}), "utf-8")
    (folder / "policies" / "bench.yaml").write_text(
        "---\n".join(make_policy(rule) for rule in rules), encoding="utf-8"
    )
    if make_rego is not None:
        (folder / "policy.rego").write_text(
            "package main\n\nimport rego.v1\n\n" + "\n".join(make_rego(r) for r in rules),
            encoding="utf-8",
        )
    shutil.copy(ROOT / "registers" / "nist-800-53-r5.yaml", folder / "registers")
    (folder / "compliancegate.yaml").write_text(
        "apiVersion: compliancegate/v1\nkind: Config\npolicies: [policies]\n"
        "registers: [registers]\npaths: [evidence]\nfail_on: low\n",
        encoding="utf-8",
    )
    return artifact


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--kind", choices=sorted(KINDS), default="trivy")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--policies", type=int, default=10)
    args = parser.parse_args()
    artifact = write_case(args.folder, args.kind, args.items, args.policies)
    print(json.dumps({"artifact": str(artifact), "bytes": artifact.stat().st_size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
