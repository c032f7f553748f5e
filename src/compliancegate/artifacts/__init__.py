"""Artifacts: one parser module per format behind one interface, a registry, discovery of the
files a check reads, and a store that parses each file once."""
