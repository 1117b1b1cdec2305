"""The frontend's types for the sidecar's HTTP answers, generated from its OpenAPI document.

The sidecar publishes its OpenAPI document at /schema/openapi.json. This builds the same
Litestar app in-process (never started: no database, no Stripe), dumps that document with
sorted keys, and hands it to openapi-typescript (the npm package, pinned in
frontend/package.json), so the types follow the sidecar's msgspec Structs without a running
server.

    uv run python -m tools.sidecar_types            # rewrite frontend/src/types/sidecar.ts
    uv run python -m tools.sidecar_types --check    # exit 1 when the file is stale
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devstack import database
from sidecar.app import create_app
from sidecar.settings import Settings
from tools import generated

FRONTEND = database.ROOT / "frontend"
TYPES_FILE = FRONTEND / "src" / "types" / "sidecar.ts"
GENERATOR = FRONTEND / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
NODE = FRONTEND / "node_modules" / ".bin" / "node"

# Enough for Settings to pass its checks; the app is built, never served, so none of these is
# ever used to reach anything.
DOCUMENT_SETTINGS = Settings(
    stripe_secret_key="sk_test_openapi_document",  # noqa: S106
    stripe_webhook_secret="whsec_openapi_document",  # noqa: S106
    site_url="http://localhost:3000",
    stripe_api_base="http://127.0.0.1:9",
    database_url="postgresql://openapi_document@127.0.0.1:9/openapi_document",
    supabase_jwt_secret="openapi-document-jwt-secret-not-used-for-anything",  # noqa: S106
)


def openapi_document() -> dict[str, Any]:
    """The document the sidecar serves at /schema/openapi.json."""
    schema: dict[str, Any] = create_app(DOCUMENT_SETTINGS).openapi_schema.to_schema()
    return schema


def document_text() -> str:
    """The document as stable text: sorted keys, so the same app always gives the same bytes."""
    return json.dumps(openapi_document(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def generate() -> str:
    """The TypeScript types openapi-typescript makes of the sidecar's document."""
    if not GENERATOR.exists():
        sys.exit(f"{GENERATOR} is missing: run `make install-node`")
    with tempfile.TemporaryDirectory() as tmp:
        document = Path(tmp) / "openapi.json"
        document.write_text(document_text())
        result = subprocess.run(  # noqa: S603  # fixed argv
            [str(NODE), str(GENERATOR), str(document)],
            cwd=FRONTEND,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0 or "export interface paths" not in result.stdout:
        sys.exit(f"openapi-typescript failed:\n{result.stderr or result.stdout}")
    return result.stdout.rstrip() + "\n"


def is_current() -> bool:
    """Whether frontend/src/types/sidecar.ts is what the generator makes of the sidecar now."""
    return generated.is_current(TYPES_FILE, generate)


def main(argv: Sequence[str] | None = None) -> int:
    return generated.check_or_write(
        argv,
        description=__doc__.splitlines()[0],
        target=TYPES_FILE,
        fresh=generate,
        module="tools.sidecar_types",
        source="the sidecar's OpenAPI document",
    )


if __name__ == "__main__":
    sys.exit(main())
