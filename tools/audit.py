"""`make audit`: Lighthouse on the shop's pages, mobile and desktop, with budgets.

Builds the frontend for production and starts the stack as `make e2e` does (a throwaway
database, the stand-ins, the sidecar, `next start`), then runs `frontend/scripts/audit.mjs`:
Lighthouse (npm `lighthouse`, offline against localhost) in Debian's Chromium on `/lessons`, a
paid lesson signed out, the same lesson signed in after buying it, and `/profile`. It writes
`frontend/audit/latest.json` and fails when a page is over `frontend/audit/budgets.json`.

    uv run python -m tools.audit
`make test` runs it holding accessibility, best practices, SEO, layout shift and the first-visit
JavaScript on /lessons (120 kB gzipped, a property of the build); it reports the performance
scores (timings, held only here, where a run on an idle machine can be trusted with them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack

import psycopg

from devstack import database
from tools import e2e

SCRIPT = e2e.FRONTEND / "scripts" / "audit.mjs"
LATEST = e2e.FRONTEND / "audit" / "latest.json"


def run(admin_url: str, gate: str = "all") -> e2e.Outcome:
    """Build, start the stack, audit, stop; never leaves a part running.

    `gate="steady"` (`make test`) holds accessibility, best practices, SEO, layout shift and the
    first-visit JavaScript, and reports the performance scores.
    """
    if (problem := e2e.missing_prerequisites()) is not None:
        print(f"audit: {problem}", flush=True)
        return e2e.Outcome(False, f"not run: {problem}")
    if not (e2e.FRONTEND / "node_modules" / "lighthouse").exists():
        return e2e.Outcome(False, "not run: lighthouse is not installed: run `make install-node`")
    e2e.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = e2e.ARTIFACTS / "audit-stack.log"
    env = e2e.stack_env()
    with log_path.open("w") as log, ExitStack() as stack:
        try:
            stack.enter_context(e2e.built_and_running(admin_url, env, log))
        except (RuntimeError, psycopg.Error) as exc:
            print(f"audit: {exc}; the parts' output is in {log_path}", flush=True)
            return e2e.Outcome(False, f"stack did not start: {exc}")
        bin_dir = e2e.FRONTEND / "node_modules" / ".bin"
        child_env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "AUDIT_BASE_URL": env["SITE_URL"],
            "AUDIT_CHROMIUM": e2e.CHROMIUM,
            "CHROME_PATH": e2e.CHROMIUM,
            "AUDIT_GATE": gate,
        }
        node = str(bin_dir / "node")  # the pinned Node 22 Lighthouse needs
        argv = [node, str(SCRIPT)]
        code = subprocess.run(argv, cwd=e2e.FRONTEND, env=child_env, check=False).returncode  # noqa: S603
    where = LATEST.relative_to(database.ROOT)
    if code == 0:
        held = (
            "every budget"
            if gate == "all"
            else "accessibility, best practices, SEO, CLS, first-visit JS"
        )
        return e2e.Outcome(True, f"{held} within budget on every page ({where})")
    return e2e.Outcome(False, f"over budget or failed (exit {code}; {where}, {log_path.name})")


def main() -> int:
    from tools.check import postgres_server  # here: check imports e2e

    with postgres_server() as admin_url:
        outcome = run(admin_url)
    print(f"audit: {outcome.summary}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
