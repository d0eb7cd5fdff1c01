"""No secret of ``DATABASE_URL`` on the command line of a child process (``pg_dump``, ``psql``).

Any local user can read ``/proc/PID/cmdline``. Each test runs the real command
against the suite's server as a role that must give a password, holds a lock
that makes the child wait, and reads the waiting child's command line (and
environment) from ``/proc`` while it runs.
"""

from __future__ import annotations

import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import database_url, get_engine
from tests.helpers import ROOT, fresh_namespace, run_cli

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")


@dataclass(frozen=True)
class Role:
    name: str
    password: str
    socket: str


@dataclass(frozen=True)
class Child:
    """A child process as another local user could see it, and its service file if any."""

    argv: list[str]
    env: dict[str, str]
    service: tuple[str, int, int] | None  # text, file mode, folder mode


@pytest.fixture(scope="module")
def password_role(base_settings: Settings) -> Iterator[Role]:
    """A login role on the suite's embedded server that must give its password (scram)."""
    if not base_settings.embedded:
        pytest.skip("needs the embedded server, whose pg_hba.conf the test may edit")
    url = sa.engine.make_url(database_url(base_settings))
    role = Role(
        name=fresh_namespace("pw"),
        # Characters that a URL must escape, and ones a conninfo string must quote.
        password=f"pw {secrets.token_hex(6)}@/:?#&='\\%",
        socket=str(url.query["host"]),
    )
    admin = get_engine(base_settings)
    literal = role.password.replace("'", "''").replace("%", "%%")  # %% for the driver
    with admin.begin() as conn:
        conn.exec_driver_sql(f"create role {role.name} login password '{literal}'")
        conn.exec_driver_sql(f"grant create on database postgres to {role.name}")
        hba = Path(conn.exec_driver_sql("show hba_file").scalar_one())
        original = hba.read_text()
        hba.write_text(f"local all {role.name} scram-sha-256\n{original}")
        conn.exec_driver_sql("select pg_reload_conf()")
    try:
        yield role
    finally:
        hba.write_text(original)
        with admin.begin() as conn:
            conn.exec_driver_sql("select pg_reload_conf()")
            conn.exec_driver_sql(f"drop owned by {role.name} cascade")
            conn.exec_driver_sql(f"drop role {role.name}")


def _url(role: Role, where: str, ssl_secret: str) -> str:
    """The role's URL with the password in the user part or the query, percent-encoded."""
    password = quote(role.password, safe="")
    host = f"host={quote(role.socket, safe='')}"
    if where == "userinfo":
        return f"postgresql://{role.name}:{password}@/postgres?{host}"
    if where == "query":
        return f"postgresql://{role.name}@/postgres?{host}&password={password}"
    assert where == "sslpassword"
    ssl = quote(ssl_secret, safe="")
    return f"postgresql://{role.name}:{password}@/postgres?{host}&sslpassword={ssl}"


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat_line = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat_line.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _read_child(pid: int) -> Child | None:
    try:
        argv = (Path(f"/proc/{pid}/cmdline").read_bytes()).split(b"\0")
        raw_env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None  # it ended meanwhile
    env = dict(item.decode().partition("=")[::2] for item in raw_env if b"=" in item)
    service = None
    if "PGSERVICEFILE" in env:  # read now: it goes when the command ends
        path = Path(env["PGSERVICEFILE"])
        modes = stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(path.parent.stat().st_mode)
        service = (path.read_text(), *modes)
    return Child([a.decode(errors="replace") for a in argv if a], env, service)


def _children_while_waiting(
    args: list[str], env: dict[str, str], program: str, settings: Settings
) -> tuple[list[Child], subprocess.CompletedProcess[str]]:
    """Run the CLI while a lock on the namespace makes ``program`` wait.

    Returns every child seen until ``program`` was found waiting (that one
    last), and the finished command. The exclusive lock on a table makes
    pg_dump and DROP SCHEMA wait.
    """
    seen: dict[int, Child] = {}
    waiting: list[Child] = []
    with get_engine(settings).connect() as conn:
        conn.exec_driver_sql(f'lock table "{settings.schema}"."user" in access exclusive mode')
        process = subprocess.Popen(
            [sys.executable, "-m", "seedbed", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not waiting and time.monotonic() < deadline and process.poll() is None:
                for pid in _descendants(process.pid):
                    child = _read_child(pid)  # again: a first look may come before exec
                    if child is not None:
                        seen[pid] = child
                        if Path(child.argv[0]).name == program:
                            waiting = [child]
                            del seen[pid]
                            break
                time.sleep(0.005)
        finally:
            conn.rollback()  # the lock goes: the child goes on
    stdout, stderr = process.communicate(timeout=120)
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert waiting, f"{program} was not seen waiting: {done}"
    return [*seen.values(), *waiting], done


@pytest.mark.parametrize("where", ["userinfo", "query", "sslpassword"])
def test_backup_and_restore_give_no_secret_to_a_child_command_line(
    where: str, password_role: Role, base_settings: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    ssl_secret = f"ssl {secrets.token_hex(6)}&='%"
    url = _url(password_role, where, ssl_secret)
    schema = fresh_namespace("sec")
    env = {**db_env, "DATABASE_URL": url, "SEEDBED_SCHEMA": schema}
    hidden = [password_role.password, ssl_secret]
    # As written, as in a URL, and the random part alone (12 hex digits, unchanged by quoting).
    forms = {f for s in hidden for f in (s, quote(s, safe=""), quote_plus(s), s.split()[1][:12])}
    outputs = [run_cli("db", "migrate", env=env)]  # the role connects: the password works
    assert outputs[0].returncode == 0, outputs[0].stderr
    settings = Settings(
        schema=schema, database_url=base_settings.database_url, home=base_settings.home
    )
    dump = tmp_path / "secret.dump"

    dumped, done = _children_while_waiting(
        ["db", "backup", "--out", str(dump)], env, "pg_dump", settings
    )
    outputs.append(done)
    assert done.returncode == 0, done.stderr
    restored, done = _children_while_waiting(
        ["db", "restore", str(dump), "--yes"], env, "psql", settings
    )
    outputs.append(done)
    assert done.returncode == 0, done.stderr

    for child in dumped + restored:
        assert not [form for form in forms if form in " ".join(child.argv)], child.argv
    for child in (dumped[-1], restored[-1]):  # the ones that connect
        assert any(arg.startswith("--dbname=") for arg in child.argv)
        assert child.env["PGPASSWORD"] == password_role.password
        if where == "sslpassword":
            assert child.service == (f"[seedbed]\nsslpassword={ssl_secret}\n", 0o600, 0o700)
            assert "service=seedbed" in " ".join(child.argv)
        else:
            assert child.service is None
    for child in (dumped[-1], restored[-1]):
        if "PGSERVICEFILE" in child.env:
            assert not Path(child.env["PGSERVICEFILE"]).parent.exists()  # removed after

    wrong = {**env, "DATABASE_URL": url.replace(quote(password_role.password, safe=""), "nope")}
    outputs += [run_cli("db", "backup", "--out", str(dump), env=wrong)]
    assert outputs[-1].returncode == 2
    assert "password authentication failed" in outputs[-1].stderr
    outputs += [run_cli("db", "reset", "--yes", env=env)]
    for done in outputs:
        assert not [form for form in forms if form in done.stdout + done.stderr]
