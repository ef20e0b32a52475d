"""Matching local records with CRM records (DESIGN §5): normalization by kind, identifier rule trees, and the
index-based matcher. Qt-free and I/O-free: callers bring the records, the matcher brings the outcomes."""
