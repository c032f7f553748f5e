"""Ed25519 keys and signatures: the ledger's signed heads (and, later, evidence bundles)."""
