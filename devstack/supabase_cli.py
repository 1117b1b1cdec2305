"""The project's pinned Supabase CLI (root package.json), driven against a database URL.

`make install` puts it in node_modules/ from package-lock.json. Only commands that work
with `--db-url` and no Docker are wrapped here: `db push`, `migration list`, `db lint`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from psycopg import conninfo

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "node_modules" / ".bin" / "supabase"
VERSION = "2.117.0"


class CliError(RuntimeError):
    """The CLI is missing, or a command it ran failed; the message carries its output."""


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """What a terminal shows: the CLI writes progress to stderr, results to stdout."""
        return self.stderr + self.stdout


def binary() -> Path:
    if not BIN.exists():
        raise CliError(
            f"the Supabase CLI is not installed ({BIN.relative_to(ROOT)} is missing): run "
            "`make install-cli` (npm ci at the project root, from package-lock.json)"
        )
    return BIN


def db_url(url: str) -> str:
    """`url` (a URL or key=value conninfo) as the percent-encoded URL the CLI wants.

    `sslmode=disable` unless the URL names one: the CLI otherwise insists on TLS, which a
    local server does not offer.
    """
    params = {k: str(v) for k, v in conninfo.conninfo_to_dict(url).items() if v is not None}
    user = quote(params.pop("user", "postgres"), safe="")
    password = params.pop("password", None)
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = params.pop("host", "127.0.0.1")
    if host.startswith("/"):  # a socket directory goes in the query string
        params["host"], host = host, ""
    port = params.pop("port", "5432")
    dbname = quote(params.pop("dbname", "postgres"), safe="")
    params.setdefault("sslmode", "disable")
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(params.items()))
    return f"postgresql://{auth}@{host}:{port}/{dbname}?{query}"


def run(
    args: Sequence[str], *, workdir: Path = ROOT, timeout: float = 300, check: bool = True
) -> Result:
    """Run `supabase <args>` in `workdir` (the folder holding supabase/)."""
    argv = [str(binary()), *args]
    env = {**os.environ, "SUPABASE_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1"}
    proc = subprocess.run(  # noqa: S603  # fixed argv built here
        argv,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise CliError(f"supabase {' '.join(args)} failed ({proc.returncode}):\n{result.output}")
    return result


def copy_config(target: Path) -> None:
    """supabase/config.toml into `target` (another project's supabase/ folder), with the files
    it names (the Auth mail templates): the CLI reads them whenever it loads the config."""
    target.mkdir(parents=True, exist_ok=True)
    source = ROOT / "supabase"
    shutil.copy(source / "config.toml", target)
    if (source / "templates").is_dir():
        shutil.copytree(source / "templates", target / "templates", dirs_exist_ok=True)


def push(url: str, *, seed: bool = True, workdir: Path = ROOT) -> Result:
    """`supabase db push`: every migration the database has not recorded, then the seed."""
    args = ["db", "push", "--db-url", db_url(url), "--yes"]
    if seed:
        args.append("--include-seed")
    return run(args, workdir=workdir)


def migration_list(url: str, *, workdir: Path = ROOT) -> list[tuple[str, str]]:
    """`supabase migration list`: (local, remote) version pairs; "" where one side lacks it."""
    result = run(
        ["migration", "list", "--db-url", db_url(url), "--output-format", "json"], workdir=workdir
    )
    rows = json.loads(result.stdout)["migrations"]
    return [(str(row.get("local") or ""), str(row.get("remote") or "")) for row in rows]


@dataclass(frozen=True)
class Lint:
    result: Result
    schemas: list[str]
    issues: list[dict[str, object]]


def lint(url: str, *, level: str = "warning") -> Lint:
    """`supabase db lint` (plpgsql_check) at `level`; fails on any issue at that level."""
    result = run(
        ["db", "lint", "--db-url", db_url(url), "--level", level, "--fail-on", level],
        check=False,
    )
    schemas = [
        line.removeprefix("Linting schema: ").strip()
        for line in result.stderr.splitlines()
        if line.startswith("Linting schema: ")
    ]
    text = result.stdout.strip()
    issues = json.loads(text) if text.startswith("[") else []
    if result.returncode != 0 and not issues:
        raise CliError(f"supabase db lint failed ({result.returncode}):\n{result.output}")
    return Lint(result, schemas, issues)


def config_warnings() -> list[str]:
    """What the CLI says about supabase/config.toml when it loads it.

    `supabase status` loads the config before it looks for the local stack, so its
    complaints about the file come first whatever happens after (no Docker here).
    """
    result = run(["status"], check=False, timeout=60)
    return [
        line
        for line in result.output.splitlines()
        if "WARN" in line or "deprecated" in line or "failed to read config" in line
    ]
