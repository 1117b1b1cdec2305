"""supabase/schemas, the live schema declared once, and the migrations that deploy it.

A database built from the platform shim and the files `schema_paths` lists in
supabase/config.toml must have the catalog of one built by `supabase db push`
(tests/dba/test_schema_matches_migrations.py). `make migration NAME=…` writes the migration
for their difference with the pinned Supabase CLI's own diff engine (`supabase db diff
--use-pg-delta`, bundled in the CLI: no Docker), puts it in the house style (sqlfluff fix),
pushes it onto the migrations' database and checks that the two then agree.

    uv run python -m tools.schemas migration add_lesson_tags   # make migration NAME=add_lesson_tags
    uv run python -m tools.schemas check                       # the two agree, or the diff
"""

from __future__ import annotations

import argparse
import difflib
import glob
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from devstack import database, supabase_cli
from tools.check import owned_schemas

ROOT = database.ROOT
NAME = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


def schema_files(project: Path = ROOT) -> list[Path]:
    """The files `[db.migrations] schema_paths` names, in its order, as the CLI reads it.

    Each entry is a file, a directory (its .sql files in name order) or a glob, relative to
    the supabase/ folder; a file named twice counts once, where it is first named.
    """
    supabase_dir = project / "supabase"
    config = tomllib.loads((supabase_dir / "config.toml").read_text())
    files: list[Path] = []
    for entry in config["db"]["migrations"]["schema_paths"]:
        path = supabase_dir / entry
        if path.is_dir():
            found = sorted(path.glob("*.sql"))
        elif glob.has_magic(entry):
            found = sorted(supabase_dir / p for p in glob.glob(entry, root_dir=supabase_dir))
        elif path.is_file():
            found = [path]
        else:
            raise FileNotFoundError(f"schema_paths names {entry}, which does not exist")
        files += [f.resolve() for f in found if f.resolve() not in files]
    return files


def build_from_schemas(url: str, project: Path = ROOT) -> list[str]:
    """The platform shim, then every schema file in order, each in its own transaction.

    Returns the schemas the project owns there (public and those the files created).
    """
    database.run_sql_file(url, database.PLATFORM_SQL)
    for path in schema_files(project):
        try:
            database.run_sql_file(url, path)
        except psycopg.Error as exc:
            raise RuntimeError(f"{path.relative_to(project)}: {exc}") from exc
    return sorted(owned_schemas(url))


def dump(url: str) -> str:
    """`pg_dump --schema-only` of everything but where the CLI records migrations.

    With the server's own major version of pg_dump where Debian keeps one (a newer pg_dump
    writes a different dump of the same catalog).
    """
    with psycopg.connect(url) as conn:
        row = conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()
    versioned = Path(f"/usr/lib/postgresql/{row[0] if row else 0}/bin/pg_dump")
    binary = str(versioned) if versioned.exists() else shutil.which("pg_dump")
    if binary is None:
        raise RuntimeError("pg_dump is not installed (Debian: postgresql-client)")
    proc = subprocess.run(  # noqa: S603  # fixed argv built here
        [binary, "--schema-only", "--exclude-schema=supabase_migrations", f"--dbname={url}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pg_dump failed: {proc.stderr}")
    return proc.stdout


# pg_dump's own noise: its version and a random key guarding psql's \restrict mode
NOISE = re.compile(r"^(\\restrict |\\unrestrict |-- Dumped (from|by) )")
ENTRY = re.compile(r"^--\n-- Name: ", re.M)


def entries(text: str) -> dict[str, str]:
    """A dump as {entry header: body}, with what legitimately differs taken out.

    An entry is one object, headed `Name: …; Type: …; Schema: …; Owner: …`; keyed by that
    header, the order objects were made in (no part of the catalog) drops out. pg_dump's noise
    goes, and an ACL entry's GRANT and REVOKE lines are sorted: the order of an ACL's items
    means nothing.
    """
    kept = "\n".join(line for line in text.splitlines() if not NOISE.match(line))
    preamble, *rest = ENTRY.split(kept)
    found = {"(settings)": preamble.strip() + "\n"}
    for entry in rest:
        header, _, body = entry.partition("\n")
        lines = body.removeprefix("--\n").strip().splitlines()
        if "; Type: ACL;" in header:
            lines = sorted(line for line in lines if line.strip())
        found[header] = found.get(header, "") + "\n".join(lines) + "\n"
    return found


def difference(declared_url: str, migrated_url: str) -> str:
    """Each object whose dump differs, as a unified diff headed by its name (empty: they agree).

    `-` lines are the database `supabase db push` built, `+` the one supabase/schemas built.
    """
    declared, migrated = entries(dump(declared_url)), entries(dump(migrated_url))
    out: list[str] = []
    for key in sorted(declared.keys() | migrated.keys()):
        before, after = migrated.get(key, ""), declared.get(key, "")
        if before != after:
            out += difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                f"migrations: {key}" if before else "migrations: (absent)",
                f"schemas:    {key}" if after else "schemas:    (absent)",
            )
    return "".join(out)


@contextmanager
def built_pair(admin_url: str, project: Path = ROOT) -> Iterator[tuple[str, str, list[str]]]:
    """(declared, migrated, project schemas): throwaway databases, dropped afterwards.

    declared: the shim and supabase/schemas; migrated: the shim and `supabase db push`.
    """
    with (
        database.throwaway(admin_url, built=False) as declared,
        database.throwaway(admin_url, built=False) as migrated,
    ):
        schemas = build_from_schemas(declared, project)
        database.run_sql_file(migrated, database.PLATFORM_SQL)
        supabase_cli.push(migrated, seed=False, workdir=project)
        yield declared, migrated, schemas


def diff_sql(migrated: str, declared: str, schemas: list[str], project: Path = ROOT) -> str:
    """The SQL that takes `migrated` to `declared`: `supabase db diff --use-pg-delta`."""
    result = supabase_cli.run(
        [
            "db", "diff", "--use-pg-delta",
            "--from", supabase_cli.db_url(migrated),
            "--to", supabase_cli.db_url(declared),
            "--schema", ",".join(schemas),
        ],
        workdir=project,
    )  # fmt: skip
    return result.stdout


def next_version(project: Path) -> str:
    """Now in UTC as the CLI names migrations, and after every existing one."""
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    existing = [p.name.partition("_")[0] for p in (project / "supabase/migrations").glob("*.sql")]
    return max([now, *(str(int(v) + 1) for v in existing)])


def header(name: str) -> str:
    return (
        f"-- {name.replace('_', ' ').capitalize()}.\n"
        "--\n"
        "-- TODO: say what and why, as the other migrations do; review every statement below.\n"
        f"-- Written by `make migration NAME={name}`: supabase db diff --use-pg-delta (Supabase\n"
        f"-- CLI {supabase_cli.VERSION}) from a database built by supabase db push to one built\n"
        "-- from supabase/schemas.\n\n"
    )


def house_style(path: Path) -> None:
    """sqlfluff fix with the project's config: the engine writes upper case, the house lower."""
    subprocess.run(  # noqa: S603  # fixed argv built here
        [sys.executable, "-m", "sqlfluff", "fix", "--config", str(ROOT / ".sqlfluff"), str(path)],
        capture_output=True,
        check=False,
    )


class NothingToWrite(Exception):
    """supabase/schemas and the migrations already agree."""


def write_migration(name: str, admin_url: str, project: Path = ROOT) -> Path:
    """Write supabase/migrations/<version>_<name>.sql for the difference, push it onto the
    migrations' database and check the two then agree; raise NothingToWrite on no difference.
    """
    if not NAME.match(name):
        raise ValueError(f"NAME must be lower_snake_case (e.g. add_lesson_tags), not {name!r}")
    with built_pair(admin_url, project) as (declared, migrated, schemas):
        sql = diff_sql(migrated, declared, schemas, project)
        if not sql.strip():
            raise NothingToWrite(
                "supabase/schemas and supabase/migrations already agree: no migration written "
                "(edit supabase/schemas first)"
            )
        path = project / "supabase" / "migrations" / f"{next_version(project)}_{name}.sql"
        path.write_text(header(name) + sql.strip() + "\n")
        house_style(path)
        try:
            supabase_cli.push(migrated, seed=False, workdir=project)
        except supabase_cli.CliError as exc:
            raise RuntimeError(f"{path.name} was written but does not apply:\n{exc}") from exc
        left = difference(declared, migrated)
        if left:
            raise RuntimeError(f"{path.name} was written and applies, but leaves:\n{left}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="do supabase/schemas and the migrations agree?")
    write = commands.add_parser("migration", help="write the migration for their difference")
    write.add_argument("name", help="what it does, lower_snake_case: add_lesson_tags")
    args = parser.parse_args(argv)
    admin_url = os.environ.get("TEST_DATABASE_URL", database.DEFAULT_ADMIN_URL)

    if args.command == "check":
        with built_pair(admin_url) as (declared, migrated, _):
            left = difference(declared, migrated)
        print(left or "supabase/schemas and supabase/migrations build the same catalog")
        return 1 if left else 0
    try:
        path = write_migration(args.name, admin_url)
    except NothingToWrite as exc:
        print(exc, file=sys.stderr)
        return 1
    except (ValueError, RuntimeError, supabase_cli.CliError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {path.relative_to(ROOT)}: it applies with supabase db push and leaves no")
    print("difference. Say what and why in its header, review it, then `make test`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
