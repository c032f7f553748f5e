"""YAML snippets shared by several test folders."""

TINY_REGISTER = """\
apiVersion: compliancegate/v1
kind: Register
metadata:
  name: tiny
  owner: compliance@example.com
  reviewed: 2026-10-01
  review_every_days: 365
standards:
  - id: tiny-std
    title: Tiny Standard
    version: "1.0"
    effective: 2020-01-01
    controls:
      - id: VULN-1
        title: Known vulnerabilities are fixed
        severity: high
        clause: security-incident
      - id: CFG-1
        title: Configuration is hardened
        severity: moderate
        clause: break-fix
"""
"""A register with two controls: ``tiny-std:VULN-1`` and ``tiny-std:CFG-1``."""
