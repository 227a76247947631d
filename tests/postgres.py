"""A real PostgreSQL server for the tests that share a database (Optuna studies, MLflow stores):
started by the test itself in a temporary directory with Debian's ``initdb`` and ``pg_ctl``.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user (which
Debian's package creates), in a directory that user owns. The test skips, saying why, only when
the binaries are absent (``make test`` installs them: ``apt-get install postgresql``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian keeps them in /usr/lib/postgresql/VERSION/bin."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server(databases: tuple[str, ...]):
    """Start a throw-away server; yield ``{name: URL}`` for each database created in it; stop it."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'nnforge[track]')")

    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (apt-get install -y postgresql; `make test` does it)")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="nnforge-pg-"))
    if os.geteuid() == 0:  # the server will not run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--"]
    data, port = folder / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                    "-E", "UTF8"], check=True, capture_output=True, env=env)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
                   check=True, capture_output=True, env=env)
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as admin:
            for name in databases:
                admin.execute(f'CREATE DATABASE "{name}"')
        yield {name: f"postgresql://postgres@127.0.0.1:{port}/{name}" for name in databases}
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, env=env)
        shutil.rmtree(folder, ignore_errors=True)
