"""The curated public surface of ``clickclack_bots``."""

from __future__ import annotations

import clickclack_bots


def test_all_is_sorted_complete_and_importable() -> None:
    names = clickclack_bots.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))  # constants first
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(clickclack_bots, name) is not None
    public = {
        name
        for name, value in vars(clickclack_bots).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("clickclack_bots")
    }
    assert public <= set(names)
