"""Content negotiation: which representation an `Accept` header prefers, q-values included.

The JSON representation is every route's default. Another one (JSON-LD, CSL-JSON, BibTeX)
is chosen only when `Accept` names its media type, with a quality above zero and at least
as high as JSON's (that of `application/json`, else `application/*`, else `*/*`: the most
specific range decides): at equal quality the type named on purpose wins, since browsers
and HTTP libraries send wildcards by default.
"""

from __future__ import annotations

from collections.abc import Sequence


def qualities(accept: str) -> dict[str, float]:
    """Media type (lower case, without parameters) → its quality in an `Accept` header.

    A malformed quality counts as 1, as if it were absent; a type named twice keeps its
    highest quality."""
    found: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 1.0
        media = media.lower()
        found[media] = max(q, found.get(media, 0.0))
    return found


def preferred(accept: str, offered: Sequence[str]) -> int | None:
    """The index in `offered` (media types) of the representation `accept` prefers to JSON,
    or None for JSON. Among offered types of equal quality, the first offered wins."""
    q = qualities(accept)
    # JSON's quality: from the most specific range that names it (RFC 9110 §12.5.1)
    json_q = q.get("application/json", q.get("application/*", q.get("*/*", 0.0)))
    best, best_q = None, 0.0
    for n, media in enumerate(offered):
        mq = q.get(media.split(";")[0].strip().lower(), 0.0)
        if mq > best_q:
            best, best_q = n, mq
    return best if best is not None and best_q >= json_q else None
