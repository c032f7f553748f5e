"""Tests of the starter policies in ``policies/`` against real inputs and real tools."""
