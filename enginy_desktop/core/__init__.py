"""Qt-free domain of Enginy Desktop: catalog, store, secrets, services.

Nothing under this package may import PySide6; ``tests/unit/test_layers.py`` enforces it.
"""
