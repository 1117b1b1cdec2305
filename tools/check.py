"""`make test`: every check the project has, in one run, on throwaway databases.

Order: linters first (cheap; `supabase db lint` on a throwaway database), then the Supabase
CLI's own path (push, list, a second push, config), then pgTAP through pg_prove on a database
built exactly as production is, then pytest (which builds its own throwaway databases), then
the frontend (generated database and sidecar types current, tsc, ESLint, Vitest, `next
build`), then the browser tests in Chromium against the whole stack (`tools.e2e`), then
Lighthouse on four pages (`tools.audit`: accessibility, best practices, SEO and layout shift
held to frontend/audit/budgets.json; performance and first-visit JavaScript reported). Every
database created here is dropped at the end, pass or fail. A summary of test counts per layer
is printed last.

    uv run python -m tools.check            # everything
    uv run python -m tools.check --only pgtap
    uv run python -m tools.check --only e2e
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import conninfo

from devstack import database, supabase_cli
from tools import audit, e2e, sidecar_types, typegen
from tools.containers import docker_available, supabase_postgres_container

ROOT = database.ROOT
PGTAP_DIR = ROOT / "supabase" / "tests" / "database"
PYTHON_PATHS = ["sidecar", "standins", "devstack", "tools", "tests", "bench"]


@dataclass
class Step:
    name: str
    summary: str = ""
    ok: bool = True
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def run(
    cmd: Sequence[str], *, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, echoing its output as it comes, and keep the output for the summary."""
    print(f"\n$ {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(  # noqa: S603  # fixed argv built here
        cmd,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    proc.wait()
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(lines), "")


def python_paths() -> list[str]:
    return [p for p in PYTHON_PATHS if (ROOT / p).exists()]


def lint(step: Step, admin_url: str) -> None:
    # pre-commit runs what a commit runs (.pre-commit-config.yaml: ruff, ruff format, sqlfluff,
    # ESLint); mypy and the database lint need the whole tree or a database, so they run here.
    checks = [
        ["pre-commit", "run", "--all-files", "--show-diff-on-failure", "--color", "never"],
        ["mypy"],
    ]
    for cmd in checks:
        if run(cmd).returncode != 0:
            step.ok = False
            step.notes.append(f"{cmd[0]} failed")
    db_lint = supabase_db_lint(step, admin_url)
    verdict = "clean" if step.ok else "FAILED"
    hooks = "pre-commit (ruff, ruff format, sqlfluff, eslint, prettier)"
    step.summary = f"{hooks}, mypy --strict, {db_lint}: {verdict}"


# Schemas the platform (Supabase, or the local shim standing in for it) owns; any other
# schema is the project's and must be linted.
PLATFORM_SCHEMAS = {
    "auth", "extensions", "storage", "realtime", "graphql", "graphql_public", "vault",
    "pgsodium", "pgsodium_masks", "net", "supabase_functions", "supabase_migrations", "cron",
    "pgbouncer", "pgmq", "_realtime", "_analytics",
}  # fmt: skip


def owned_schemas(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select nspname from pg_namespace"
            " where nspname !~ '^pg_' and nspname <> 'information_schema'"
        ).fetchall()
    return {str(r[0]) for r in rows} - PLATFORM_SCHEMAS


def supabase_db_lint(step: Step, admin_url: str) -> str:
    """`supabase db lint --level warning` (plpgsql_check) on a freshly built database."""
    print("\n$ supabase db lint --db-url <throwaway> --level warning --fail-on warning", flush=True)
    try:
        with database.throwaway(admin_url) as url:
            owned = owned_schemas(url)
            result = supabase_cli.lint(url)
    except (supabase_cli.CliError, RuntimeError) as exc:
        step.ok = False
        step.notes.append(f"supabase db lint could not run: {exc}")
        return "supabase db lint"
    sys.stdout.write(result.result.output)
    unlinted = owned - set(result.schemas)
    if unlinted:
        step.ok = False
        step.notes.append(f"supabase db lint skipped schemas: {', '.join(sorted(unlinted))}")
    if result.issues:
        step.ok = False
        names = sorted({str(item.get("function")) for item in result.issues})
        step.notes.append(f"supabase db lint: warnings in {', '.join(names)}")
    return f"supabase db lint ({', '.join(sorted(owned))})"


def cli(step: Step, admin_url: str) -> None:
    """The Supabase CLI's own path on a database holding only the platform shim.

    `db push --include-seed` applies every migration and the seed and records them;
    `migration list` shows each local migration applied; a second push changes nothing; and
    the CLI loads supabase/config.toml without a warning.
    """
    local = [p.name for p in database.migration_files()]
    versions = [database.version_of(p) for p in database.migration_files()]
    parts: list[str] = []

    def fail(note: str) -> None:
        step.ok = False
        step.notes.append(note)

    try:
        with database.throwaway(admin_url, built=False) as url:
            if not database.is_supabase(url):
                database.run_sql_file(url, database.PLATFORM_SQL)
            first = show(supabase_cli.push(url))
            applied = re.findall(r"^Applying migration (\S+)\.\.\.$", first.stderr, re.M)
            seeded = "Seeding data from supabase/seed.sql" in first.stderr
            if applied != local:
                fail(f"db push applied {applied}, expected {local}")
            if not seeded:
                fail("db push --include-seed did not run supabase/seed.sql")
            recorded = history(url)
            if [v for v, _ in recorded] != versions or not all(n for _, n in recorded):
                fail(f"schema_migrations holds {recorded}, expected {versions} with statements")
            parts.append(f"push {len(applied)} migrations" + (" + seed" if seeded else ""))

            show(supabase_cli.run(["migration", "list", "--db-url", supabase_cli.db_url(url)]))
            listed = supabase_cli.migration_list(url)  # the same, as JSON
            matched = [loc for loc, rem in listed if loc and loc == rem]
            if matched != versions or len(listed) != len(versions):
                fail(f"migration list shows {listed}, expected every local version applied")
            parts.append(f"list {len(matched)}/{len(versions)}")

            second = show(supabase_cli.push(url))
            if "Remote database is up to date." not in second.output or history(url) != recorded:
                fail("a second db push was not a no-op")
            else:
                parts.append("second push no-op")
    except (supabase_cli.CliError, RuntimeError, psycopg.Error) as exc:
        fail(str(exc))

    print("\n$ supabase status  # loads supabase/config.toml", flush=True)
    try:
        warnings = supabase_cli.config_warnings()
    except supabase_cli.CliError as exc:
        warnings = [str(exc)]
    for line in warnings:
        fail(f"config.toml: {line}")
    if not warnings:
        parts.append("config.toml loads without warnings")
    step.summary = f"supabase {supabase_cli.VERSION}: " + ", ".join(parts)
    if not step.ok:
        step.summary += " — FAILED"


def show(result: supabase_cli.Result) -> supabase_cli.Result:
    """Echo a CLI run as a terminal would have shown it."""
    print(f"\n$ supabase {' '.join(result.argv[1:])}", flush=True)
    sys.stdout.write(result.output)
    return result


def history(url: str) -> list[tuple[str, int]]:
    """(version, number of statements) rows of supabase_migrations.schema_migrations."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select version, coalesce(array_length(statements, 1), 0)"
            " from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    return [(str(v), int(n)) for v, n in rows]


def pg_prove_command(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_prove over every pgTAP file against `url`, and the environment it needs."""
    params = conninfo.conninfo_to_dict(url)
    files = sorted(str(p.relative_to(ROOT)) for p in PGTAP_DIR.glob("*.test.sql"))
    cmd = ["pg_prove", "--ext", ".sql", "-d", str(params["dbname"])]
    for flag, key in (("-h", "host"), ("-p", "port"), ("-U", "user")):
        if params.get(key):
            cmd += [flag, str(params[key])]
    env = {"PGPASSWORD": str(params["password"])} if params.get("password") else {}
    return [*cmd, *files], env


def pgtap(step: Step, admin_url: str) -> None:
    if shutil.which("pg_prove") is None:
        step.ok = False
        step.summary = "pg_prove is not installed: run `make install` (needs root for apt-get)"
        return
    with database.throwaway(admin_url) as url:
        cmd, env = pg_prove_command(url)
        result = run(cmd, env=env)
    step.ok = result.returncode == 0
    match = re.search(r"Files=(\d+), Tests=(\d+)", result.stdout)
    step.summary = (
        f"{match.group(2)} assertions in {match.group(1)} files, on a database built by"
        " supabase db push"
        if match
        else "no pg_prove summary"
    )
    if not step.ok:
        step.summary += " — FAILED"


def pytest(step: Step, admin_url: str, extra: Sequence[str]) -> None:
    result = run(["pytest", *extra], env={"TEST_DATABASE_URL": admin_url})
    step.ok = result.returncode == 0
    tail = result.stdout.strip().splitlines()[-1:] or [""]
    step.summary = tail[0].strip("= ")


def frontend(step: Step, admin_url: str) -> None:
    """The Next.js site: database and sidecar types current, tsc, lint, Vitest, `next build`."""
    if not (ROOT / "frontend" / "node_modules" / ".bin" / "next").exists():
        step.ok = False
        step.summary = "frontend packages missing: run `make install-node`"
        return
    if not typegen.is_current(admin_url):
        step.ok = False
        step.notes.append("src/types/database.ts is stale: run `uv run python -m tools.typegen`")
    if not sidecar_types.is_current():
        step.ok = False
        step.notes.append(
            "src/types/sidecar.ts is stale: run `uv run python -m tools.sidecar_types`"
        )
    env = {"NO_COLOR": "1", "FORCE_COLOR": "0", "NEXT_TELEMETRY_DISABLED": "1"}
    counts = "no vitest summary"
    for script in ("typecheck", "test", "build"):  # ESLint runs in the lint layer
        result = run(["npm", "--prefix", "frontend", "run", script], env=env)
        if script == "test":
            match = re.search(r"Tests\s+(.+?)\s*\(\d+\)", result.stdout)
            counts = f"vitest {match.group(1)}" if match else counts
        if result.returncode != 0:
            step.ok = False
            step.notes.append(f"npm run {script} failed")
        elif script == "build":
            e2e.record_build()  # the browser tests run this very build
    verdict = "clean" if step.ok else "FAILED"
    step.summary = f"{counts}; types, tsc, next build: {verdict}"


def browser(step: Step, admin_url: str) -> None:
    outcome = e2e.run(admin_url)
    step.ok = outcome.ok
    step.summary = outcome.summary + ("" if outcome.ok else " — FAILED")


def lighthouse(step: Step, admin_url: str) -> None:
    # accessibility, best practices, SEO, layout shift; performance and first-visit JS reported
    # (`make audit` holds them too)
    outcome = audit.run(admin_url, gate="steady")
    step.ok = outcome.ok
    step.summary = outcome.summary + ("" if outcome.ok else " — FAILED")


@contextmanager
def postgres_server() -> Iterator[str]:
    """The admin URL of a server to build test databases on.

    TEST_DATABASE_URL if set; else the local server on 127.0.0.1:5432; else, where a Docker
    engine runs, Supabase's own Postgres image through testcontainers.
    """
    given = os.environ.get("TEST_DATABASE_URL")
    url = given or database.DEFAULT_ADMIN_URL
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if given is None and docker_available():
            with supabase_postgres_container() as container_url:
                yield container_url
            return
        sys.exit(
            f"No Postgres at {url!r}: {exc}\n"
            "Start one (on Debian: `pg_ctlcluster 15 main start`), set TEST_DATABASE_URL to a "
            "server where this user may create databases, or start Docker so that the "
            "supabase/postgres image can serve instead."
        )
    yield url


LAYERS = ("lint", "cli", "pgtap", "pytest", "frontend", "e2e", "audit")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--only", choices=[*LAYERS], action="append")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest")
    args = parser.parse_args(argv)
    only = set(args.only or LAYERS)
    with ExitStack() as stack:
        admin_url = stack.enter_context(postgres_server())
        return run_layers(only, admin_url, args.pytest_args)


def run_layers(only: set[str], admin_url: str, pytest_args: Sequence[str]) -> int:
    layers: list[tuple[str, Callable[[Step], None]]] = []
    if "lint" in only:
        layers.append(("lint", lambda s: lint(s, admin_url)))
    if "cli" in only:
        layers.append(("CLI", lambda s: cli(s, admin_url)))
    if "pgtap" in only:
        layers.append(("pgTAP", lambda s: pgtap(s, admin_url)))
    if "pytest" in only:
        layers.append(("pytest", lambda s: pytest(s, admin_url, pytest_args)))
    if "frontend" in only:
        layers.append(("frontend", lambda s: frontend(s, admin_url)))
    if "e2e" in only:
        layers.append(("e2e", lambda s: browser(s, admin_url)))
    if "audit" in only:
        layers.append(("Lighthouse", lambda s: lighthouse(s, admin_url)))

    steps = []
    for name, body in layers:
        step = Step(name)
        started = time.monotonic()
        body(step)
        step.seconds = time.monotonic() - started
        steps.append(step)

    print("\n== summary ==")
    for step in steps:
        mark = "ok  " if step.ok else "FAIL"
        print(f"{mark} {step.name:<8} {step.summary} ({step.seconds:.0f}s)")
        for note in step.notes:
            print(f"       {note}")
    return 0 if all(s.ok for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
