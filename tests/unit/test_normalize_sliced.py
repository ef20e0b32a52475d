"""Normalizing a big column a slice at a time (so other threads, the window's, get the GIL between slices) gives
exactly what the one-value functions give, across slice boundaries."""

from __future__ import annotations

from enginy_desktop.core.matching import normalize
from enginy_desktop.core.matching.normalize import Kind, normalize_column, normalizer_for


def test_big_columns_are_normalized_in_slices_with_the_same_result(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(normalize, "_SLICE", 1000)
    urls = [f"https://www.LinkedIn.com/in/Person-{i}%C3%A9/?trk=x" if i % 7 else f"linkedin.com/pub/jane-doe/{i}/0/1"
            for i in range(3500)]
    names = [("José Álvarez" if i % 5 == 0 else f"  Ana  O'Neil {i} ") for i in range(3500)]
    for values, kind in ((urls, Kind.LINKEDIN_URL), (names, Kind.PERSON_NAME)):
        single = normalizer_for(kind)
        assert normalize_column(values, kind) == [single(v) for v in values]
