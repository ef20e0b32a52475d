"""Import sources: TheirStack."""
