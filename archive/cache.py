"""A small in-process cache of answers that are valid for one version of the data.

Search answers (``GET /v1/search``) are pure functions of the request and of the archive's
contents, and the same searches come again and again (a class looking up the same names,
a page refreshed). Like Elasticsearch's shard request cache, :class:`VersionedCache` keeps
recent answers and throws them all away when the data changes, so that it never serves an
answer the archive would no longer give.

**The data version** is :func:`archive.changes.latest`: the highest sequence number of the
change feed. Every create, update and delete records a change in the transaction that makes
it (`archive.changes.record`, called by documents, spans, citations, claims, evidence and
text revisions), and so do bulk writes: `archive import`, ``POST /v1/import`` and the
bundled corpus load all go through :func:`archive.transfer.import_lines`, which inserts one
change per imported record in the caller's transaction (`archive.bundled.load` is that call
too). A committed write therefore always raises the version. What bypasses the feed is not
seen: a raw SQL edit of the tables (``sqlite3 archive.db "UPDATE documents ..."``) leaves the
version as it was, and answers cached before it keep being served until the next recorded
write, or a restart. So do a migration that changes how the index ranks, applied under a
running server by a newer version of the code (the upgraded server starts with an empty
cache), and swapping the database under a running server for another one that happens to
stand at the same version.

**Consistency.** The caller reads the version in the same session, before the work it
caches, and stores the answer under the version it read:

- SQLite: the read transaction sees one snapshot, so the answer is exactly the data of that
  version;
- PostgreSQL (READ COMMITTED, a snapshot per statement): a write may commit between the
  version read and the search, so an answer stored under version *v* can already show the
  write that made *v + 1*. It is only served to requests that read *v*, that is to requests
  that began before that write committed; the data it shows was committed before it is
  served. An answer is never stored under a version newer than the data it shows, because
  the version is read first. (Sequence numbers are handed out in commit order: see
  :mod:`archive.changes`.)

The cache holds one version at a time: a look-up or a store under any other version
empties it first. A newer version makes every entry stale. An older one is either a
PostgreSQL reader that began just before the last write committed (rare, and it costs only
the entries of a version that is about to come back) or a database rebuilt from scratch,
whose versions start again from 0: emptying the cache then, rather than ignoring the older
version, is what keeps the new database from ever being answered from the old one's
entries. Entries of a past version are so freed at once instead of waiting to be evicted.

It is bounded by a number of entries, least recently used first out, and safe to use from
several threads (routes run in a thread pool). A search entry is the answer's bytes: about
6 KB for 10 items over the benchmark's 10,000 documents, 40 KB for 100, so the default of
1024 entries holds some 6 to 40 MB per worker. Each process has its own: nothing is shared
between workers, and nothing needs to be, since every worker checks the version itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class VersionedCache(Generic[V]):
    """At most `size` entries, all for one data version; `size` 0 caches nothing."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("size: must be 0 or more")
        self.size = size
        self.version: int | None = None
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _at(self, version: int) -> None:
        """Hold `version` from now on (the lock is held)."""
        if version != self.version:
            self._entries.clear()
            self.version = version

    def get(self, version: int, key: Hashable) -> V | None:
        """The entry stored for `key` under `version`, or None."""
        if not self.size:
            return None
        with self._lock:
            self._at(version)
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, version: int, key: Hashable, value: V) -> None:
        """Store `value` for `key` as valid at `version`; drop the least recently used
        entries beyond `size`."""
        if not self.size:
            return
        with self._lock:
            self._at(version)
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
