"""A private Postgres cluster under .devstack/, from the installed server binaries.

The devstack's database when DATABASE_URL is not set: its own data directory, port 54322 (the
Supabase CLI's local database port) and socket directory, so it never touches another server
on the machine. Postgres refuses to run as root; as root the cluster runs as the `postgres`
system user that Debian's server package creates.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.database import ROOT

DEFAULT_PORT = 54322


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

    @property
    def url(self) -> str:
        return f"postgresql://postgres:postgres@127.0.0.1:{self.port}/postgres"

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
        result = self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        if result.returncode != 0:
            raise ClusterError(f"initdb failed:\n{result.stderr or result.stdout}")
        return True

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_dir), "status").returncode == 0

    def start(self) -> None:
        """Start the cluster unless it runs already; safe to call twice."""
        self.initialise()
        if self.running():
            return
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
