"""Storage's files on disk, laid out as storage-api's file backend lays them out.

Each object version is one file, `<root>/<bucket>/<object name>/<version>` (storage-api's
`FileBackend` with its default path separator, without the tenant prefix). Every path is
checked as its `resolveSecureFilesystemPath` checks it before anything touches the disk: no
NUL, nothing absolute, no `.` or `..` segment, and the result inside the root. Range headers
are parsed as its `parseRangeHeader` parses them: one range, or 416.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio

from standins.supabase.storage_errors import entity_too_large, invalid_key, invalid_range

# storage-api's limits.ts VALID_OBJECT_KEY: S3's safe characters and a few that need care.
_VALID_KEY = re.compile(r"[A-Za-z0-9_/!.*'() &$=@;:+,?-]*")
# What a filesystem allows in one path segment, and S3 in one key; storage-api's backends
# refuse longer ones (ENAMETOOLONG on disk, KeyTooLongError on S3).
_MAX_SEGMENT_BYTES = 255
MAX_KEY_BYTES = 1024
_SAFE_INTEGER = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
_CHUNK = 64 * 1024


def must_be_valid_key(name: str) -> None:
    """storage-api's mustBeValidKey: a non-empty name of the allowed characters."""
    if not name or _VALID_KEY.fullmatch(name) is None:
        raise invalid_key(name)


def resolve(root: Path, relative: str) -> Path:
    """`relative` under `root`, or InvalidKey, as resolveSecureFilesystemPath decides."""
    if "\0" in relative:
        raise invalid_key(relative, "contains null byte")
    if relative.startswith(("/", "\\")) or re.match(r"[a-zA-Z]:[\\/]", relative):
        raise invalid_key(relative, "must be a relative path")
    segments = [segment for segment in re.split(r"[\\/]+", relative) if segment]
    if any(segment in (".", "..") for segment in segments):
        raise invalid_key(relative, "contains dot path segment")
    if any(len(segment.encode()) > _MAX_SEGMENT_BYTES for segment in segments):
        raise invalid_key(relative, "has a path segment longer than 255 bytes")
    base = os.path.abspath(root)
    resolved = os.path.normpath(os.path.join(base, relative))
    if not resolved.startswith(base + os.sep):
        raise invalid_key(relative, "resolves outside storage directory")
    return Path(resolved)


def version_path(root: Path, bucket: str, name: str, version: str) -> Path:
    return resolve(root, f"{bucket}/{name}/{version}")


@dataclass(frozen=True)
class Written:
    size: int
    etag: str  # '"<md5 hex>"', the file backend's default STORAGE_FILE_ETAG_ALGORITHM
    mtime: float


async def write(path: Path, chunks: AsyncIterable[bytes], limit: int) -> Written:
    """Stream `chunks` into a new file at `path`; EntityTooLarge (and no file) past `limit`."""
    await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()  # noqa: S324 - an ETag, as storage-api computes it, not a secret
    size = 0
    try:
        async with await anyio.open_file(path, "xb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise entity_too_large()
                digest.update(chunk)
                await out.write(chunk)
    except BaseException:
        remove(path)
        raise
    stat = await anyio.Path(path).stat()
    return Written(size=size, etag=f'"{digest.hexdigest()}"', mtime=stat.st_mtime)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read(path: Path, first: int, last: int) -> Iterator[bytes]:
    """Bytes `first`..`last` (inclusive) of the file, in chunks."""
    with path.open("rb") as source:
        source.seek(first)
        left = last - first + 1
        while left > 0:
            chunk = source.read(min(_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def parse_range(header: str, size: int) -> tuple[int, int]:
    """storage-api's parseRangeHeader: `bytes=a-b`, `bytes=a-` or `bytes=-n` (first and last
    byte, inclusive, clamped to the file); several ranges, a start past the end, a reversed
    range or an empty file are 416 InvalidRange."""
    match = re.fullmatch(r"bytes=([0-9]*)-([0-9]*)", header)
    if match is None or size <= 0:
        raise invalid_range()
    start, end = match.groups()
    if not start and not end:
        raise invalid_range()
    if not start:
        suffix = int(end)
        if suffix <= 0 or suffix > _SAFE_INTEGER:
            raise invalid_range()
        return max(size - suffix, 0), size - 1
    first = int(start)
    last = int(end) if end else size - 1
    if first > _SAFE_INTEGER or last > _SAFE_INTEGER or last < first or first >= size:
        raise invalid_range()
    return first, min(last, size - 1)
