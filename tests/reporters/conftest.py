"""Fixtures for the reporter tests; the factories live in ``report_factory``."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import xmlschema
from report_factory import JUNIT_XSD, mixed_report

from compliancegate.model import CheckReport
from compliancegate.reporters.json_report import load_schema


@pytest.fixture
def report() -> CheckReport:
    """The mixed sample report: every status, waived and open violations, notices, gaps."""
    return mixed_report()


@pytest.fixture(scope="session")
def junit_xsd() -> Any:
    """Jenkins xUnit's junit-10.xsd, loaded once."""
    return xmlschema.XMLSchema(str(JUNIT_XSD))


@pytest.fixture(scope="session")
def report_validator() -> jsonschema.Draft202012Validator:
    """A validator for the shipped check-report schema, checking formats too."""
    schema = load_schema()
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
