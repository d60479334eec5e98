"""A private, throw-away PostgreSQL cluster for the load and fault runs.

The fault run stops PostgreSQL in the middle of the load. Stopping the machine's shared server
would break everyone else using it, so both runs start their own cluster (initdb into a temporary
folder, listening on 127.0.0.1 on a spare port) and remove it afterwards. Run as root, the
PostgreSQL programs run as the `postgres` user.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


def pg_bin():
    """The folder of PostgreSQL's server programs (PG_BIN, or the newest installed version)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise SystemExit("找不到 PostgreSQL 的 pg_ctl（可用 PG_BIN 指定其所在目录）。")


class PrivateCluster:
    def __init__(self, port):
        self.port = port
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="cobuild-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgresql.log"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def _run(self, program, *args, check=True):
        command = [str(self.bin / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def init(self):
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# cobuild load/fault run\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "max_connections = 100\n"
                "shared_buffers = 64MB\n"
                "logging_collector = off\n"
            )
        return self

    def start(self):
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        """Stop the server; `immediate` is a hard stop (no checkpoint, clients cut off)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def is_running(self):
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def create_database(self, name):
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def destroy(self):
        if self.data.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
