"""Qt widgets. Views render state from ``core`` and forward user intent to core services; no business rules."""
