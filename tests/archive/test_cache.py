"""archive/cache.py: a bounded LRU whose entries hold for one data version."""

from __future__ import annotations

import threading

import pytest

from archive.cache import VersionedCache


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: VersionedCache[str] = VersionedCache(2)
    cache.put(1, "a", "A")
    cache.put(1, "b", "B")
    assert cache.get(1, "a") == "A"  # now "b" is the least recently used
    cache.put(1, "c", "C")
    assert len(cache) == 2
    assert cache.get(1, "b") is None
    assert (cache.get(1, "a"), cache.get(1, "c")) == ("A", "C")


def test_storing_a_key_again_replaces_it_without_growing() -> None:
    cache: VersionedCache[str] = VersionedCache(2)
    cache.put(1, "a", "A")
    cache.put(1, "a", "A2")
    assert len(cache) == 1 and cache.get(1, "a") == "A2"


def test_entries_hold_for_their_version_only() -> None:
    cache: VersionedCache[str] = VersionedCache(8)
    cache.put(3, "a", "A")
    assert cache.get(4, "a") is None  # a write happened: stale
    assert len(cache) == 0
    cache.put(4, "a", "A4")
    assert cache.get(4, "a") == "A4"


def test_an_older_version_never_sees_newer_entries_nor_keeps_them() -> None:
    """A database rebuilt from scratch starts again from version 0: when it reaches the
    old version again, none of the old database's answers may come back."""
    cache: VersionedCache[str] = VersionedCache(8)
    cache.put(100, "a", "old database")
    assert cache.get(5, "a") is None
    cache.put(5, "b", "B")
    assert cache.get(100, "a") is None


def test_size_zero_caches_nothing() -> None:
    cache: VersionedCache[str] = VersionedCache(0)
    cache.put(1, "a", "A")
    assert cache.get(1, "a") is None and len(cache) == 0


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError):
        VersionedCache(-1)


def test_the_bound_holds_under_concurrent_use() -> None:
    cache: VersionedCache[int] = VersionedCache(50)

    def work(offset: int) -> None:
        for i in range(2000):
            cache.put(1, (offset, i % 80), i)
            cache.get(1, (offset, (i * 7) % 80))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50
