"""A throwaway PostgreSQL (Debian's, the host's own binaries) for integration tests: a cluster
in a temporary directory owned by the postgres user, listening only on a Unix socket in it,
stopped and removed with the test."""
import glob
import os
import shutil
import subprocess
import tempfile

from conftest import wait_until

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1] if glob.glob("/usr/lib/postgresql/*/bin") else None
PSQL = shutil.which("psql") or "/usr/bin/psql"


def as_postgres(*argv):
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, text=True)


class Postgres:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="bg-pg-")
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.data = os.path.join(self.root, "data")
        as_postgres(f"{BIN}/initdb", "--auth=trust", "--username=postgres", "-D", self.data)
        as_postgres(f"{BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.root, "log"), "-w",
                    "-o", f"-c listen_addresses='' -c unix_socket_directories={self.root}", "start")
        self.conninfo = f"host={self.root} dbname=postgres user=postgres"
        wait_until(lambda: self.psql("SELECT 1").strip() == "1", 20, "the throwaway PostgreSQL")

    def psql(self, sql):
        return subprocess.run([PSQL, "--no-psqlrc", "-At", "--dbname", self.conninfo, "-c", sql], check=True,
                              capture_output=True, text=True).stdout

    def stop(self):
        try:
            as_postgres(f"{BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
