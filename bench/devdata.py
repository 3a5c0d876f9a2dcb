"""Where the development halves of the public data sets live, if anywhere.

The data stays outside the repository (`../shared/data/` next to the checkout, the way the
project's machines lay it out); `THROUGHLINE_DEV_DATA` points elsewhere. Benches that need it
print a line and skip cleanly when it is absent: a clean clone has no such directory.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dev_data_dir() -> Path | None:
    """The first existing candidate: $THROUGHLINE_DEV_DATA, then ../shared/data from the checkout
    (and from the checkout's parent, for a worktree one level deeper)."""
    candidates = []
    if os.environ.get("THROUGHLINE_DEV_DATA"):
        candidates.append(Path(os.environ["THROUGHLINE_DEV_DATA"]))
    candidates += [ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    return None


def dev_file(name: str) -> Path | None:
    """`name` in the dev data directory, or None (the caller skips) when it is not there."""
    base = dev_data_dir()
    path = base / name if base else None
    return path if path is not None and path.is_file() else None
