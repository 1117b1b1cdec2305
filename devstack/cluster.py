"""A private Postgres cluster under .devstack/, from the installed server binaries.

The devstack's database when DATABASE_URL is not set: its own data directory, port 54322 (the
Supabase CLI's local database port) and socket directory, so it never touches another server
on the machine. Postgres refuses to run as root; as root the cluster runs as the `postgres`
system user that Debian's server package creates.

It accepts password logins only (scram-sha-256, over TCP and its socket alike), never `trust`:
the password is the one in DATABASE_URL (`.env`), so a process on the machine that does not
know it cannot connect. A cluster made by an older devstack with `trust` is switched over on
its next start.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from devstack.database import ROOT

DEFAULT_PORT = 54322
# the Supabase CLI's local database password, as in .env.example
DEFAULT_PASSWORD = "postgres"  # noqa: S105  # a local development default, not a secret

# Written over initdb's: password logins only, on the socket and on loopback.
PG_HBA = """\
# devstack: password (scram-sha-256) logins only; no trust, no peer
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


class ClusterError(RuntimeError):
    """The cluster could not be created or started; the message says what to do."""


def server_bindir() -> Path:
    """Where initdb and pg_ctl live: pg_config's answer, else the newest Debian server."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(  # noqa: S603  # fixed argv
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if (Path(out) / "initdb").exists():
            return Path(out)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise ClusterError(
            "no Postgres server binaries found: install them (Debian: apt-get install "
            "postgresql-15) or set DATABASE_URL to a server you already run"
        )
    return candidates[-1].parent


@dataclass(frozen=True)
class PrivateCluster:
    data_dir: Path = ROOT / ".devstack" / "postgres"
    port: int = DEFAULT_PORT
    password: str = DEFAULT_PASSWORD

    @property
    def url(self) -> str:
        return (
            f"postgresql://postgres:{quote(self.password, safe='')}@127.0.0.1:{self.port}/postgres"
        )

    @property
    def hba_file(self) -> Path:
        return self.data_dir / "pg_hba.conf"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(server_bindir() / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603

    def _hand_to_postgres_user(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for item in [path, *path.rglob("*")]:
                os.chown(item, user.pw_uid, user.pw_gid)

    def initialise(self) -> bool:
        """Create the data directory once; returns True when it was created now."""
        if (self.data_dir / "PG_VERSION").exists():
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._hand_to_postgres_user(self.data_dir.parent)
        # initdb reads the superuser's password from a file, never from its argv
        pwfile = self.data_dir.parent / "initdb-password"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self.password + "\n")
        self._hand_to_postgres_user(pwfile)
        try:
            result = self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed:\n{result.stderr or result.stdout}")
        self._write_hba()
        return True

    def _write_hba(self) -> None:
        self.hba_file.write_text(PG_HBA)
        self._hand_to_postgres_user(self.hba_file)

    def trusts(self) -> bool:
        """True for a cluster an older devstack made, which lets anyone in without a password."""
        lines = self.hba_file.read_text().splitlines() if self.hba_file.exists() else []
        return any(
            line.split()[-1:] == ["trust"] for line in lines if not line.lstrip().startswith("#")
        )

    def _switch_to_passwords(self) -> None:
        """Give a `trust` cluster the password and then require it."""
        trusting = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(trusting, autocommit=True) as conn:
            conn.execute("set password_encryption = 'scram-sha-256'")
            conn.execute(
                sql.SQL("alter role postgres password {}").format(sql.Literal(self.password))
            )
        self._write_hba()
        self._run("pg_ctl", "-D", str(self.data_dir), "reload")

    def check_password(self) -> None:
        """Connect with the password; a clear error when the cluster knows another one."""
        try:
            psycopg.connect(self.url, connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            if "password authentication failed" not in str(exc):
                raise ClusterError(f"the private Postgres on port {self.port}: {exc}") from exc
            raise ClusterError(
                f"the private Postgres in {self.data_dir} refused the password in DATABASE_URL "
                "(it was created with another one): put that one back in .env, or remove the "
                "cluster with `make clean` to have it made again with the new password"
            ) from exc

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_dir), "status").returncode == 0

    def start(self) -> None:
        """Start the cluster unless it runs already; safe to call twice."""
        self.initialise()
        if not self.running():
            self._start_server()
        if self.trusts():
            self._switch_to_passwords()
        self.check_password()

    def _start_server(self) -> None:
        self.log_file.touch()
        self._hand_to_postgres_user(self.log_file)
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir}"
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "start",
        )
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise ClusterError(
                f"the private Postgres on port {self.port} did not start "
                f"(is the port taken? see {self.log_file}):\n{result.stderr}{tail}"
            )

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
