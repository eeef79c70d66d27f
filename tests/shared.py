"""The project's shared material (schemas, seeds, conformance suites), for tests.

On the project's own machines and in CI it is the folder `../shared` beside the repository
(or `ARCHIVE_SHARED_DIR`). A plain clone has no such folder: there, `shared_file` answers the
copies the package ships (the CSL-JSON schema, the JSON-LD context, the bundled seeds, the
CSL styles), which tests/test_shipped_copies.py checks to be byte-identical to the shared
ones wherever both exist. The W3C Web Annotation test suite is not shipped: its tests skip
without it. `make_corpus.py`, which the benchmarks and the slow lookup test need, is in
`../shared/bench/` of the project's working copy (ask the maintainers for it).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARCHIVE_SHARED_DIR") or ROOT.parent / "shared")
PACKAGE = ROOT / "archive"

# The shared file (relative to the shared folder) → the copy the package ships
SHIPPED: dict[str, Path] = {
    "external/csl/schemas/input/csl-data.json": PACKAGE / "schemas" / "csl-data.json",
    "external/w3c-annotation/examples/jsonld/anno.jsonld": PACKAGE / "contexts" / "anno.jsonld",
    **{
        f"external/csl-styles/{style.name}": style
        for style in sorted((PACKAGE / "styles").glob("*.csl"))
    },
    **{f"seeds/{seed.name}": seed for seed in sorted((PACKAGE / "corpus" / "seeds").glob("*.txt"))},
}


def shared_present() -> bool:
    return SHARED.is_dir()


def shared_file(relative: str) -> Path:
    """The shared folder's file when the folder is there, else the shipped copy of it."""
    if shared_present():
        return SHARED / relative
    if relative not in SHIPPED:
        raise FileNotFoundError(f"{relative}: not in {SHARED}, and the project ships no copy")
    return SHIPPED[relative]
