"""Public result notices (公示) and signed archive reports, derived from the ledger."""
