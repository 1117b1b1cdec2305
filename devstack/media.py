"""The demo lessons' media and covers: made here in code, uploaded to Storage with the secret key.

Nothing binary is committed: a two-second tone (WAV), its WebVTT captions, a diagram (PNG) and
a one-page PDF are generated on each run (about 40 kB in all), uploaded to the private bucket
`lesson-media` at `<lesson_id>/<file>` through supabase-py's storage client, and listed in
`lesson_media` through PostgREST, as an operator with the secret key would do it. Each
published lesson's cover (a 960x540 PNG, a few kB) goes to the public bucket `lesson-covers`,
and the lesson's `cover_path` and `cover_alt` are set through PostgREST. Safe to run again:
uploads upsert, rows upsert on their object path, covers are set again.

    uv run python -m devstack.media   # against $SUPABASE_URL with $SUPABASE_SECRET_KEY
"""

from __future__ import annotations

import math
import os
import struct
import sys
import zlib
from dataclasses import dataclass
from typing import Any

import httpx
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError

from supabase import ClientOptions, create_client

BUCKET = "lesson-media"
COVERS_BUCKET = "lesson-covers"
FREE = "00000000-0000-4000-8000-000000000001"
JOINS = "00000000-0000-4000-8000-000000000002"
RLS = "00000000-0000-4000-8000-000000000003"


def tone_wav(seconds: int = 2, hz: int = 440, rate: int = 8000) -> bytes:
    """A sine tone, 16-bit mono PCM, faded in and out so it does not click."""
    frames = seconds * rate
    fade = rate // 20
    samples = bytearray()
    for i in range(frames):
        envelope = min(1.0, i / fade, (frames - 1 - i) / fade)
        samples += struct.pack("<h", int(12000 * envelope * math.sin(2 * math.pi * hz * i / rate)))
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(samples),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        rate,
        rate * 2,
        2,
        16,
        b"data",
        len(samples),
    )
    return header + bytes(samples)


def captions_vtt(lines: list[str], seconds: int = 2) -> bytes:
    """WebVTT with the lines spread evenly over `seconds`."""
    step = seconds * 1000 // len(lines)
    cues = [
        f"00:00:{i * step // 1000:02d}.{i * step % 1000:03d} --> "
        f"00:00:{(i + 1) * step // 1000:02d}.{(i + 1) * step % 1000:03d}\n{line}\n"
        for i, line in enumerate(lines)
    ]
    return ("WEBVTT\n\n" + "\n".join(cues)).encode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def venn_png(width: int = 240, height: int = 140) -> bytes:
    """Two overlapping circles, the left one filled: what a left join keeps."""
    left, right, radius = (95, 70), (145, 70), 55
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            in_left = (x - left[0]) ** 2 + (y - left[1]) ** 2 <= radius**2
            in_right = (x - right[0]) ** 2 + (y - right[1]) ** 2 <= radius**2
            if in_left:
                rows += bytes((62, 118, 196))
            elif in_right:
                rows += bytes((222, 226, 232))
            else:
                rows += bytes((255, 255, 255))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


COVER_SIZE = (960, 540)  # 16:9, wide enough for a 2x screen's card and a link preview


def cover_png(background: tuple[int, int, int], columns: int, rows: int) -> bytes:
    """A cover: `rows` by `columns` light cards, evenly spaced, on a plain background."""
    width, height = COVER_SIZE
    card = (246, 247, 250)
    margin, gap = 96, 32
    card_w = (width - 2 * margin - (columns - 1) * gap) // columns
    card_h = (height - 2 * margin - (rows - 1) * gap) // rows
    plain = b"\0" + bytes(background) * width
    cards = bytearray(b"\0")
    for x in range(width):
        inside = x >= margin and (x - margin) % (card_w + gap) < card_w
        inside = inside and (x - margin) // (card_w + gap) < columns
        cards += bytes(card if inside else background)
    lines = bytearray()
    for y in range(height):
        in_card = y >= margin and (y - margin) % (card_h + gap) < card_h
        in_card = in_card and (y - margin) // (card_h + gap) < rows
        lines += cards if in_card else plain
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(lines), 9))
        + _chunk(b"IEND", b"")
    )


# lesson id: (background, columns, rows, what the cover shows)
COVERS: dict[str, tuple[tuple[int, int, int], int, int, str]] = {
    FREE: (
        (29, 78, 137),
        3,
        3,
        "Nine white cards in three rows on deep blue, like the rows of a table",
    ),
    JOINS: (
        (20, 110, 90),
        2,
        3,
        "Two columns of white cards side by side on green, paired row by row",
    ),
    RLS: ((120, 40, 60), 4, 2, "Eight white cards in two rows on dark red, each one set apart"),
    "00000000-0000-4000-8000-000000000004": (
        (60, 50, 120),
        1,
        3,
        "Three white cards stacked on violet, like events arriving one after another",
    ),
    "00000000-0000-4000-8000-000000000005": (
        (150, 90, 20),
        2,
        2,
        "Four white cards in a square on amber, two of them side by side at once",
    ),
    "00000000-0000-4000-8000-000000000006": (
        (40, 40, 40),
        5,
        2,
        "Ten white cards in two sorted rows on charcoal, like the pages of an index",
    ),
}


def demo_covers() -> list[tuple[str, str, bytes]]:
    """(lesson id, cover path, PNG) for each published demo lesson."""
    return [
        (lesson, f"{lesson}/cover.png", cover_png(background, columns, rows))
        for lesson, (background, columns, rows, _) in COVERS.items()
    ]


def notes_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF (A4) with a title and a few lines of Helvetica."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = [f"BT /F1 20 Tf 72 770 Td ({escape(title)}) Tj ET"]
    text += [
        f"BT /F1 12 Tf 72 {730 - 20 * i} Td ({escape(line)}) Tj ET" for i, line in enumerate(lines)
    ]
    content = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


@dataclass(frozen=True)
class MediaFile:
    path: str
    content_type: str
    data: bytes


def demo_media() -> tuple[list[MediaFile], list[dict[str, Any]]]:
    """The files to upload and the lesson_media rows that list them."""
    files = [
        MediaFile(f"{FREE}/welcome.wav", "audio/wav", tone_wav(hz=440)),
        MediaFile(
            f"{FREE}/welcome.vtt",
            "text/vtt",
            captions_vtt(["Welcome to SQL.", "A table is a set of rows."]),
        ),
        MediaFile(f"{JOINS}/joins.wav", "audio/wav", tone_wav(hz=523)),
        MediaFile(
            f"{JOINS}/joins.vtt",
            "text/vtt",
            captions_vtt(
                [
                    "An inner join keeps the rows that match.",
                    "A left join keeps every row on the left.",
                ]
            ),
        ),
        MediaFile(f"{JOINS}/joins-diagram.png", "image/png", venn_png()),
        MediaFile(
            f"{JOINS}/joins-notes.pdf",
            "application/pdf",
            notes_pdf(
                "Joins without fear",
                ["inner join: rows that match on both sides", "left join: every row on the left"],
            ),
        ),
        MediaFile(
            f"{RLS}/rls-notes.pdf",
            "application/pdf",
            notes_pdf(
                "Row level security",
                ["enable RLS on every table", "one policy per role and operation"],
            ),
        ),
    ]
    rows: list[dict[str, Any]] = [
        {
            "lesson_id": FREE,
            "kind": "audio",
            "title": "Welcome, read aloud",
            "object_path": f"{FREE}/welcome.wav",
            "captions_path": f"{FREE}/welcome.vtt",
            "duration_seconds": 2,
            "position": 0,
        },
        {
            "lesson_id": JOINS,
            "kind": "audio",
            "title": "Joins in two seconds",
            "object_path": f"{JOINS}/joins.wav",
            "captions_path": f"{JOINS}/joins.vtt",
            "duration_seconds": 2,
            "position": 0,
        },
        {
            "lesson_id": JOINS,
            "kind": "image",
            "title": "Two overlapping circles: a left join keeps all of the left one",
            "object_path": f"{JOINS}/joins-diagram.png",
            "position": 1,
        },
        {
            "lesson_id": JOINS,
            "kind": "pdf",
            "title": "Joins: the notes",
            "object_path": f"{JOINS}/joins-notes.pdf",
            "page_count": 1,
            "position": 2,
        },
        {
            "lesson_id": RLS,
            "kind": "pdf",
            "title": "Row level security: the notes",
            "object_path": f"{RLS}/rls-notes.pdf",
            "page_count": 1,
            "position": 0,
        },
    ]
    return files, rows


def seed(supabase_url: str, secret_key: str) -> int:
    """Upload the demo files and list them; returns how many files were uploaded."""
    client = create_client(
        supabase_url, secret_key, ClientOptions(auto_refresh_token=False, persist_session=False)
    )
    files, rows = demo_media()
    bucket = client.storage.from_(BUCKET)
    columns = {key for row in rows for key in row}
    full_rows = [{key: row.get(key) for key in sorted(columns)} for row in rows]
    try:
        for media in files:
            bucket.upload(
                media.path, media.data, {"content-type": media.content_type, "upsert": "true"}
            )
        client.table("lesson_media").upsert(full_rows, on_conflict="object_path").execute()
        covers = client.storage.from_(COVERS_BUCKET)
        for lesson, path, png in demo_covers():
            # public and unchanging for a day: browsers and link previews may keep it
            covers.upload(
                path, png, {"content-type": "image/png", "cache-control": "86400", "upsert": "true"}
            )
            cover = {"cover_path": path, "cover_alt": COVERS[lesson][3]}
            client.table("lessons").update(cover).eq("id", lesson).execute()
    except (StorageApiError, APIError, httpx.HTTPError) as exc:
        raise RuntimeError(f"uploading the demo media failed: {exc}") from exc
    return len(files) + len(COVERS)


def main() -> int:
    url, key = os.environ.get("SUPABASE_URL"), os.environ.get("SUPABASE_SECRET_KEY")
    if not url or not key:
        print("devstack.media: set SUPABASE_URL and SUPABASE_SECRET_KEY", file=sys.stderr)
        return 2
    print(f"devstack.media: uploaded {seed(url, key)} files to {BUCKET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
