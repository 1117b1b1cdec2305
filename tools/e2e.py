"""`make e2e`: the browser tests, in real Chromium, against the shop as `make dev` runs it.

The frontend is built for production once (`npm run build`; skipped while the sources are
unchanged since the last build), then every part starts on a free port: a throwaway database
on the server `make test` uses (TEST_DATABASE_URL, else the local Postgres, else Supabase's
image where Docker runs), the mail outbox, the Supabase API stand-in, the Stripe stand-in
delivering signed webhooks to the sidecar, the sidecar (SITE_URL = the frontend's origin) and
`next start`.
Playwright (`frontend/e2e/`) drives Debian's Chromium through it; screenshots of every step
land in `frontend/e2e/artifacts/`. Everything stops and the database is dropped at the end,
pass or fail.

A small control server lets a test stop and start the sidecar (`POST /sidecar/stop`,
`POST /sidecar/start`), as an operator's restart would. After the browser tests, schemathesis
fuzzes the site's API route on the same stack (tests/frontend/, described by
frontend/openapi/checkout_session.yaml).

    uv run python -m tools.e2e                   # every browser test, then the API route's fuzz
    uv run python -m tools.e2e -- -g keyboard    # after --: `playwright test` arguments (no fuzz)
    uv run python -m tools.e2e --api-only        # the API route's fuzz alone
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

import psycopg
from dotenv import dotenv_values

from devstack import cli, database
from standins.serving import free_port

FRONTEND = cli.FRONTEND_DIR
ARTIFACTS = FRONTEND / "e2e" / "artifacts"
BUILD_STAMP = FRONTEND / ".next" / "lesson-shop-source-hash"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
# not read by `next build` (installed packages are covered by package-lock.json)
NOT_SOURCES = {
    "node_modules",
    ".next",
    "e2e",
    "audit",
    "openapi",
    "playwright.config.ts",
    "README.md",
}


@dataclass
class Outcome:
    """What the browser run ended with; `summary` is one line for `make test`'s table."""

    ok: bool
    summary: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0


def source_files() -> list[Path]:
    """What `next build` reads: the frontend's files git does not ignore, less the tests."""
    listed = subprocess.run(  # noqa: S603  # fixed argv
        [shutil.which("git") or "git", "ls-files", "-z", "-co", "--exclude-standard", "."],
        cwd=FRONTEND,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        names = [Path(n) for n in listed.stdout.decode().split("\0") if n]
    else:  # not a git checkout
        names = [p.relative_to(FRONTEND) for p in FRONTEND.rglob("*") if p.is_file()]
    return sorted(n for n in names if n.parts[0] not in NOT_SOURCES and (FRONTEND / n).is_file())


def source_hash() -> str:
    digest = hashlib.sha256()
    for relative in source_files():
        digest.update(str(relative).encode() + b"\0" + (FRONTEND / relative).read_bytes() + b"\0")
    return digest.hexdigest()


def record_build() -> None:
    """Note that `.next` was just built from the current sources (`make test`'s frontend layer)."""
    BUILD_STAMP.write_text(source_hash())


def build_frontend(log: IO[str]) -> None:
    """`npm run build`, unless the last build was made from these very sources."""
    wanted = source_hash()
    built = (FRONTEND / ".next" / "BUILD_ID").exists()
    if built and BUILD_STAMP.exists() and BUILD_STAMP.read_text() == wanted:
        print("e2e: production build is up to date", flush=True)
        return
    print("e2e: building the frontend for production (npm run build)", flush=True)
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603  # fixed argv
        [shutil.which("npm") or "npm", "run", "build"],
        cwd=FRONTEND,
        env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1"},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    log.write(result.stdout)
    if result.returncode != 0:
        print(result.stdout[-4000:])
        raise RuntimeError("npm run build failed (output above)")
    BUILD_STAMP.write_text(wanted)
    print(f"e2e: built in {time.monotonic() - started:.0f}s", flush=True)


def stack_env() -> dict[str, str]:
    """`.env.example`'s offline values with every address moved to a free port."""
    values = {k: v for k, v in dotenv_values(cli.ENV_EXAMPLE).items() if v is not None}
    return {
        **values,
        "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
        "SUPABASE_URL": f"http://127.0.0.1:{free_port()}",
        "PORT": str(free_port()),
        "SITE_URL": f"http://127.0.0.1:{free_port()}",
        "MAIL_OUTBOX_URL": f"http://127.0.0.1:{free_port()}",
        "LOG_LEVEL": "WARNING",
        # Storage's files for this run, not make dev's under .devstack/
        "DEVSTACK_DIR": str(ARTIFACTS / "devstack"),
        # the shortest signed-URL TTL the reader takes, so a test sees URLs re-signed and a
        # copied one refused within half a minute
        "MEDIA_URL_TTL_SECONDS": "30",
    }


def pump_to(service: cli.Service, log: IO[str], lock: threading.Lock) -> None:
    assert service.process is not None
    assert service.process.stdout is not None
    for line in service.process.stdout:
        with lock:
            log.write(f"{service.name:>8} | {line}")
            log.flush()


class Stack:
    """The running parts; the sidecar can be stopped and started again by the tests."""

    def __init__(self, parts: list[cli.Service], log: IO[str]) -> None:
        self.parts = parts
        self.log = log
        self.lock = threading.Lock()
        self.by_name = {p.name: p for p in parts}

    def start(self, service: cli.Service) -> None:
        service.start()
        threading.Thread(target=pump_to, args=(service, self.log, self.lock), daemon=True).start()
        cli.wait_healthy(service)

    def stop_all(self) -> None:
        for service in reversed(self.parts):
            service.stop()


@contextmanager
def running_stack(database_url: str, env: dict[str, str], log: IO[str]) -> Iterator[Stack]:
    parts = [*cli.services(env, database_url), cli.frontend(env, "start")]
    stack = Stack(parts, log)
    try:
        for service in parts:
            print(f"e2e: starting {service.name}", flush=True)
            stack.start(service)
        cli.seed_media(env)
        yield stack
    finally:
        stack.stop_all()


@contextmanager
def built_and_running(admin_url: str, env: dict[str, str], log: IO[str]) -> Iterator[Stack]:
    """The production build (made if stale), a throwaway database and every part running on it."""
    build_frontend(log)
    with database.throwaway(admin_url) as url, running_stack(url, env, log) as parts:
        yield parts


def control_server(stack: Stack) -> ThreadingHTTPServer:
    """POST /sidecar/stop and /sidecar/start, for the test that loses the sidecar mid-flow."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            name, _, verb = self.path.strip("/").partition("/")
            service = stack.by_name.get(name)
            if service is None or verb not in ("stop", "start"):
                self.send_error(404)
                return
            with stack.lock:
                stack.log.write(f"     e2e | {verb} {name}\n")
            try:
                if verb == "stop":
                    service.stop()
                elif service.process is None or service.process.poll() is not None:
                    stack.start(service)
            except RuntimeError as exc:
                self.send_error(500, str(exc))
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def playwright(env: dict[str, str], control: str, extra: Sequence[str]) -> int:
    bin_dir = FRONTEND / "node_modules" / ".bin"
    child_env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "E2E_BASE_URL": env["SITE_URL"],
        "E2E_STRIPE_URL": env["STRIPE_API_BASE"],
        "E2E_STRIPE_SECRET_KEY": env["STRIPE_SECRET_KEY"],
        "E2E_SUPABASE_URL": env["SUPABASE_URL"],
        # the publishable key, under the name frontend/e2e reads
        "E2E_SUPABASE_ANON_KEY": cli.key(env, "SUPABASE_PUBLISHABLE_KEY") or "",
        # the secret key, for what the shop's operator does through the API (unpublish a lesson)
        "E2E_SUPABASE_SECRET_KEY": cli.key(env, "SUPABASE_SECRET_KEY") or "",
        "E2E_MAIL_URL": env["MAIL_OUTBOX_URL"],
        "E2E_CONTROL_URL": control,
        "E2E_CHROMIUM": CHROMIUM,
    }
    cmd = [str(bin_dir / "playwright"), "test", *extra]
    print(f"\n$ (cd frontend && {' '.join(cmd[1:])})", flush=True)
    return subprocess.run(cmd, cwd=FRONTEND, env=child_env, check=False).returncode  # noqa: S603


API_TESTS = database.ROOT / "tests" / "frontend"


def api_fuzz(env: dict[str, str]) -> tuple[bool, str]:
    """Schemathesis on the site's API route against this stack: (passed, pytest's last line)."""
    stack = {
        "SITE_URL": env["SITE_URL"],
        "SUPABASE_URL": env["SUPABASE_URL"],
        "SUPABASE_PUBLISHABLE_KEY": cli.key(env, "SUPABASE_PUBLISHABLE_KEY") or "",
    }
    cmd = [sys.executable, "-m", "pytest", str(API_TESTS), "-q", "-p", "no:cacheprovider"]
    print(f"\n$ python {' '.join(cmd[1:])}", flush=True)
    result = subprocess.run(  # noqa: S603  # fixed argv
        cmd,
        cwd=database.ROOT,
        env={**os.environ, "E2E_STACK": json.dumps(stack)},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    print(result.stdout, end="", flush=True)
    last = (result.stdout.strip().splitlines() or [""])[-1].strip("= ")
    return result.returncode == 0, last


def read_results() -> tuple[int, int, int]:
    """(passed, failed, skipped) from Playwright's JSON report."""
    report = ARTIFACTS / "results.json"
    if not report.exists():
        return 0, 0, 0
    stats = json.loads(report.read_text()).get("stats", {})
    passed = int(stats.get("expected", 0)) + int(stats.get("flaky", 0))
    return passed, int(stats.get("unexpected", 0)), int(stats.get("skipped", 0))


def print_timings() -> None:
    """What the tests measured (e2e/artifacts/timings.json), e.g. Pay click → Purchase complete."""
    report = ARTIFACTS / "timings.json"
    if report.exists():
        for name, ms in json.loads(report.read_text()).items():
            print(f"e2e: {name.removesuffix(' (ms)')}: {ms / 1000:.2f} s")


def missing_prerequisites() -> str | None:
    if not cli.frontend_present():
        return "frontend/package.json lacks the dev/build/start scripts of the Next.js app"
    if not (FRONTEND / "node_modules" / ".bin" / "playwright").exists():
        return "Playwright is not installed: run `make install-node` (npm ci in frontend/)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}: run `make install-browser` (apt-get install chromium)"
    return None


def run(
    admin_url: str, extra: Sequence[str] = (), *, browser: bool = True, fuzz: bool | None = None
) -> Outcome:
    """Build, start the stack, run the browser tests (and, unless Playwright was given
    arguments, the API route's fuzz), stop; never leaves a part running."""
    fuzz = not extra if fuzz is None else fuzz
    if (problem := missing_prerequisites()) is not None:
        print(f"e2e: {problem}", flush=True)
        return Outcome(False, f"not run: {problem}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ("results.json", "timings.json"):
        (ARTIFACTS / stale).unlink(missing_ok=True)
    log_path = ARTIFACTS / "stack.log"
    env = stack_env()
    with log_path.open("w") as log, ExitStack() as stack:
        try:
            parts = stack.enter_context(built_and_running(admin_url, env, log))
        except (RuntimeError, psycopg.Error) as exc:
            print(f"e2e: {exc}; the parts' output is in {log_path}", flush=True)
            return Outcome(False, f"stack did not start: {exc}")
        server = control_server(parts)
        stack.callback(server.shutdown)
        host, port = server.server_address[:2]
        code = playwright(env, f"http://{host!s}:{port}", extra) if browser else 0
        fuzz_ok, fuzz_line = api_fuzz(env) if fuzz else (True, "")
    passed, failed, skipped = read_results()
    print_timings()
    line = f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")
    if not browser:
        line = "browser tests not run"
    if fuzz:
        line += f"; API route fuzz: {fuzz_line}"
    print(f"e2e: {line}")
    where = ARTIFACTS.relative_to(database.ROOT)
    print(f"e2e: screenshots in {where}/, the parts' output in {where}/stack.log")
    ok = fuzz_ok and (not browser or (code == 0 and failed == 0 and passed > 0))
    return Outcome(ok, line, passed, failed, skipped)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools.e2e", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("playwright_args", nargs="*", help="passed to `playwright test`")
    parser.add_argument(
        "--api-only", action="store_true", help="only schemathesis on the site's API route"
    )
    args = parser.parse_args(argv)
    from tools.check import postgres_server  # here: check imports this module

    # the same server `make test` uses: TEST_DATABASE_URL, the local one, or Supabase's image
    with postgres_server() as admin_url:
        if args.api_only:
            outcome = run(admin_url, browser=False, fuzz=True)
        else:
            outcome = run(admin_url, args.playwright_args)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
