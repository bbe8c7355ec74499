"""The read side: versioned views built from the event log."""
