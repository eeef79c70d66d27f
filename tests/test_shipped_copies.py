"""The copies of shared material the package ships are byte-identical to the originals in
the project's shared folder (where it exists, as in CI), and a plain clone has every one of
them, so that its tests run without that folder (tests/shared.py)."""

from __future__ import annotations

import pytest

from tests.shared import SHARED, SHIPPED, shared_file, shared_present


def test_every_shipped_copy_exists() -> None:
    assert len(SHIPPED) >= 2 + 4 + 5  # schema, context, four styles, five seeds
    for relative, copy in SHIPPED.items():
        assert copy.is_file(), relative


@pytest.mark.parametrize("relative", sorted(SHIPPED))
def test_shipped_copies_are_byte_identical_to_the_shared_originals(relative: str) -> None:
    if not shared_present():
        pytest.skip(f"no shared folder at {SHARED} to compare with (a plain clone)")
    original = SHARED / relative
    assert original.is_file(), f"{original} is missing from the shared folder"
    assert SHIPPED[relative].read_bytes() == original.read_bytes(), relative
    assert shared_file(relative) == original
