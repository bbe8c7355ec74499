"""Data, not code: the field layouts of the market's flows (see ledger.flows.record_layouts)."""
