"""What the two type generators share: a file the repository keeps as a generator writes it.

`tools.typegen` (the database's types) and `tools.sidecar_types` (the sidecar's) each say how
to make their file's text; this checks it (`--check`) or rewrites it, the same way for both.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from devstack import database


def is_current(target: Path, fresh: Callable[[], str]) -> bool:
    """Whether `target` holds exactly what the generator makes now."""
    return target.exists() and target.read_text() == fresh()


def check_or_write(
    argv: Sequence[str] | None,
    *,
    description: str,
    target: Path,
    fresh: Callable[[], str],
    module: str,
    source: str,
) -> int:
    """The command line of a generator: rewrite `target`, or with --check exit 1 when stale.

    `module` is the generator's `python -m` name (said in the stale message); `source` is what
    the file is generated from, in words ("the migrations").
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    relative = target.relative_to(database.ROOT)
    if args.check:
        if not is_current(target, fresh):
            print(f"{relative} is stale: run `uv run python -m {module}`")
            return 1
        print(f"{relative} matches {source}")
        return 0
    text = fresh()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(f"wrote {relative}")
    return 0
