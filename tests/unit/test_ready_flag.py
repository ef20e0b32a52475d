"""A card says "Not available yet" exactly when no adapter stands behind the integration: the catalog's flag and
the adapter registry never disagree (a new adapter without the flag flipped, or a flag without an adapter)."""

from __future__ import annotations

from enginy_desktop.adapters.registry import adapter_path
from enginy_desktop.core import catalog


def test_ready_means_an_adapter_exists() -> None:
    wrong = {i.key: i.ready for i in catalog.INTEGRATIONS if i.ready != (adapter_path(i.key) is not None)}
    assert not wrong, f"catalog.NOT_READY_YET disagrees with the adapter registry for: {wrong}"


def test_not_ready_text_names_the_integration() -> None:
    for spec in catalog.INTEGRATIONS:
        assert bool(spec.not_ready_text) is (not spec.ready)
        if not spec.ready:
            assert spec.name in spec.not_ready_text
