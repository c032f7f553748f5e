"""The ledger: an append-only, hash-chained record of every run and every finding's life.

One module per concept (``docs/ledger.md`` describes the format):

- ``records``: the record envelope and its canonical JSON line;
- ``chain``: the SHA-256 chain over the records' exact bytes;
- ``clocks``: due dates from the register's SLA, and breaches;
- ``state``: findings derived from the records (never stored, never rewritten);
- ``operations`` and ``changes``: what happened (a run, a manual action) and the records it
  adds to a given state, computed again whenever the state under it changes;
- ``observe``: a ``CheckReport`` turned into a run operation;
- ``files``, ``lock``, ``pending``: the on-disk format, its lock and the authenticated
  queue of operations not yet stored;
- ``placement``: where a ledger's files may live (the per-user state directory; nothing the
  gated checkout holds becomes a record);
- ``filestore`` and ``gitstore``: the two stores behind ``interface.LedgerStore``;
  ``location`` picks one from a ``--ledger`` value;
- ``gitcmd``: git run with a sanitized environment, for the git store;
- ``breakfix`` and ``recording``: what ``check`` asks of the ledger and writes to it;
- ``views``: findings as ``findings list`` and ``findings show`` present them.

Nothing is imported here, so that ``compliancegate`` starts fast when no ledger is used.
"""
