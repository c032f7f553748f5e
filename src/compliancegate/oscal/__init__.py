"""OSCAL documents for auditors: assessment results and a plan of action and milestones.

- ``ids``: deterministic UUIDs, catalog control ids, RFC 3339 times and OSCAL text types;
- ``assessment``: assessment results for one ``check`` run, several runs, or a ledger period;
- ``poam``: the POA&M of the findings the ledger holds open;
- ``validation``: ``validate_oscal`` against NIST's OSCAL JSON schemas shipped in ``schemas/``.

Its own package rather than a module of the evidence bundle: ``check --report oscal``,
``findings list --format poam`` and the bundle all write these documents. ``docs/oscal.md``
says what maps to what. Nothing is imported here, so ``compliancegate`` starts fast.
"""
