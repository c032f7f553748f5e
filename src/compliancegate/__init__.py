"""compliancegate: a compliance-as-code gate for CI/CD pipelines.

This module stays import-free so that ``compliancegate --version`` costs little more than
Python's own start-up.
"""

__version__ = "0.1.0"
