"""The export engine (DESIGN §6): values and rules, the plan, the run with its journal, and the report.

Qt-free: the export dialog, preview, progress dialog and report views render these objects and forward the user's
choices to them. ``docs/export.md`` describes the engine and the report format.
"""
