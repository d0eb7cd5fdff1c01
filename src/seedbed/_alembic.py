"""Alembic as it is: where the revisions live, its config, and applying them unchecked.

:mod:`seedbed.safety` reads revisions through this module and
:mod:`seedbed.migrate` builds its guarded ``upgrade`` on top of both, so
nothing here imports either of them. :func:`alembic_errors` is the one
boundary where what Alembic (or a revision file) raises for a user's input
becomes a :class:`~seedbed.errors.MigrationError`.
"""

from __future__ import annotations

import argparse
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import MultipleHeads, RevisionError
from alembic.util.exc import CommandError

from seedbed.citus import allow_row_triggers
from seedbed.config import Settings, load_settings, migrations_setting
from seedbed.db import database_errors, get_engine
from seedbed.errors import MigrationError, SeedbedError, driver_errors, map_errors, reason
from seedbed.facts import FolderSource, ModuleSource, model_source
from seedbed.facts.catalog import unknown_types_quiet

PACKAGED_MIGRATIONS = Path(__file__).resolve().parent / "_migrations"
"""Where an installed package keeps its copy of the revisions."""


def migrations_dir() -> Path:
    """The Alembic environment and revisions to use.

    ``SEEDBED_MIGRATIONS`` if set; else the ``migrations/`` folder of the source
    checkout this package runs from (an editable install or ``PYTHONPATH=src``),
    so ``db generate`` writes into the repository; else the copy that an
    installed package ships as ``seedbed/_migrations``.
    """
    chosen = migrations_setting()  # refuses a folder that is missing or has no env.py
    if chosen is not None:
        return chosen
    if isinstance(model_source(), FolderSource | ModuleSource):
        # seedbed's revisions make seedbed's tables: db migrate would add them to the
        # namespace, and db generate write a revision dropping them, among seedbed's
        raise MigrationError(
            "SEEDBED_MODELS names a model of your own, whose revisions live in a folder of "
            "their own: set SEEDBED_MIGRATIONS to it (db generate starts one in an empty folder; "
            "db pull --adopt, for a namespace that has tables already)"
        )
    return seedbed_environment()


def seedbed_environment() -> Path:
    """seedbed's own Alembic folder: the source checkout's ``migrations/``, else the packaged copy.

    Its ``env.py`` reads the model from ``SEEDBED_MODELS``, so a copy of it
    (:func:`new_environment`) serves any model.
    """
    package = Path(__file__).resolve().parent
    checkout = package.parents[1] / "migrations" if package.parent.name == "src" else None
    for candidate in (checkout, PACKAGED_MIGRATIONS):
        if candidate is not None and (candidate / "env.py").is_file():
            return candidate
    raise MigrationError("no migrations folder with env.py found; set SEEDBED_MIGRATIONS")


#: What an Alembic folder needs besides ``versions/``: the environment and the revision template.
ENVIRONMENT_FILES = ("env.py", "script.py.mako")


def new_environment(folder: Path) -> None:
    """Make ``folder`` an Alembic folder for a model of its own: seedbed's env.py and template.

    Files already there are kept; ``versions/`` is created empty if missing.
    """
    source = seedbed_environment()
    with map_errors({OSError: MigrationError}, f"cannot write {folder}"):
        (folder / "versions").mkdir(parents=True, exist_ok=True)
        for name in ENVIRONMENT_FILES:
            if not (folder / name).exists():
                shutil.copyfile(source / name, folder / name)


def target_revision(revision: str) -> str:
    """``revision`` as given, unless it is empty or ends in ``@`` (Alembic asserts on those)."""
    if not revision.strip() or revision.endswith("@"):
        raise MigrationError(f"{revision!r} is not a revision: name a revision id, head or base")
    return revision


@contextmanager
def alembic_errors(folder: Path | None = None) -> Iterator[None]:
    """Raise :class:`MigrationError` for what Alembic raises on a user's input.

    That is Alembic's ``CommandError`` and ``RevisionError`` (an unknown or
    ambiguous revision, two heads, a cycle, a range that is not a line of
    history), a file of the migrations folder that does not compile, any
    exception raised while a revision file is imported or its code runs, and
    one raised by env.py's own code: the message names the file and the
    error's first line. Database errors pass, for
    :func:`~seedbed.db.database_errors`; so does anything seedbed or a library
    raises outside those files (a bug: exit 70). ``folder`` is the Alembic
    folder whose files those are (default: :func:`migrations_dir`).
    """
    try:
        with warnings.catch_warnings():
            # Alembic warns of a broken history (an id twice, a missing parent), then
            # fails further on or carries on with a history that is not in the files.
            warnings.filterwarnings("error", category=UserWarning, module=r"alembic\.script\.")
            with unknown_types_quiet():  # compare_type names them
                yield
    except SeedbedError:
        raise
    except driver_errors():  # asked now: SQLAlchemy's are among them once it is imported
        raise
    except MultipleHeads as exc:
        raise MigrationError(
            f"more than one head revision ({', '.join(exc.heads)}): add a merge revision "
            "whose down_revision names them all, or name one with --to"
        ) from exc
    except (CommandError, RevisionError, UserWarning) as exc:
        raise MigrationError(reason(exc)) from exc
    except SyntaxError as exc:
        if exc.filename is None or _migrations_file(exc.filename, folder) is None:
            raise
        raise MigrationError(f"cannot load {exc.filename}:{exc.lineno}: {exc.msg}") from exc
    except (Exception, SystemExit) as exc:  # a revision may even call sys.exit()
        frame = _user_frame(exc.__traceback__, folder)
        if frame is None:
            raise
        file, function = frame
        doing = f"{function}() failed in" if function != "<module>" else "cannot load"
        if Path(file).name == "env.py":
            doing = "failed in"
        raise MigrationError(f"{doing} {file}: {type(exc).__name__}: {reason(exc)}") from exc


def _migrations_file(file: str, folder: Path | None = None) -> Path | None:
    """``file`` as a path if it is a Python file of ``folder`` (default: the migrations folder)."""
    try:
        folder = (folder or migrations_dir()).resolve()
    except SeedbedError:
        return None
    path = Path(file).resolve()
    return path if path.suffix == ".py" and folder in path.parents else None


def _user_frame(tb: TracebackType | None, folder: Path | None = None) -> tuple[str, str] | None:
    """File and function of the code in the migrations folder that raised, if it did.

    The innermost frame of a revision file anywhere in the traceback (its
    code called what raised), else env.py when the error was raised in it.
    """
    frames: list[tuple[str, str]] = []
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_frame.f_code.co_name))
        tb = tb.tb_next
    ours = [(file, function) for file, function in frames if _migrations_file(file, folder)]
    revisions = [frame for frame in ours if Path(frame[0]).name != "env.py"]
    if revisions:
        return revisions[-1]
    return frames[-1] if frames and ours and frames[-1] == ours[-1] else None


def load_scripts(config: Config) -> ScriptDirectory:
    """Alembic's revisions for ``config``, every file loaded and linked to its parents.

    Raises :class:`MigrationError` for what makes the history unreadable: a
    file that does not load (see :func:`alembic_errors`), a revision id given
    twice, a parent or ``depends_on`` that names no revision, an id that is
    not a string. Alembic warns about some of these and then fails further
    on, or carries on with a history that is not the one in the files.
    """
    scripts = ScriptDirectory.from_config(config)
    folder = Path(scripts.dir)
    with alembic_errors(folder):
        try:
            scripts.revision_map.heads  # noqa: B018  (building the map loads every file)
        except (SeedbedError, CommandError, RevisionError, SyntaxError):
            raise
        except (Exception, SystemExit) as exc:
            if _user_frame(exc.__traceback__, folder) is not None:
                raise  # alembic_errors names the file
            if isinstance(exc, KeyError):  # Alembic looks up a parent that is not there
                why = f"a revision depends on {exc.args[0]!r}, which no file defines"
            elif isinstance(exc, UserWarning):  # turned into an error by alembic_errors
                why = reason(exc)
            else:
                why = f"{type(exc).__name__}: {reason(exc)}"
            raise MigrationError(f"cannot read the revisions in {scripts.dir}: {why}") from exc
    return scripts


def alembic_config(
    settings: Settings,
    connection: sa.Connection | None = None,
    metadata: sa.MetaData | None = None,
    *,
    folder: Path | None = None,
) -> Config:
    """Alembic's config for ``settings``; env.py reads the namespace and metadata from it.

    ``folder`` is the Alembic folder (default: :func:`migrations_dir`).
    """
    # Alembic's own lines ("Generating ... done") are not printed: seedbed says what was done
    config = Config(cmd_opts=argparse.Namespace(quiet=True))
    config.set_main_option("script_location", str(folder or migrations_dir()))
    config.attributes["schema"] = settings.schema
    if metadata is not None:
        config.attributes["metadata"] = metadata
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def connected(
    settings: Settings, metadata: sa.MetaData | None = None, *, folder: Path | None = None
) -> Iterator[Config]:
    """Alembic's config on one transaction, committed at the end; its errors become ours.

    On Citus the transaction may create and drop the ``updated_at`` trigger on
    distributed tables (:func:`~seedbed.citus.allow_row_triggers`).
    """
    engine = get_engine(settings)
    with (
        database_errors("migration failed"),
        alembic_errors(folder),
        engine.begin() as connection,
    ):
        allow_row_triggers(connection)
        config = alembic_config(settings, connection, metadata, folder=folder)
        load_scripts(config)  # Alembic loads them again; this way a broken file is named
        yield config


def upgrade_unchecked(settings: Settings | None = None, revision: str = "head") -> None:
    """Apply revisions up to ``revision`` as they are: no lint, no refusal, no backup.

    For a namespace whose data does not matter (a fresh one, tests, benchmarks);
    everything else goes through :func:`seedbed.migrate.upgrade`.
    """
    settings = settings or load_settings()
    target = target_revision(revision)
    with connected(settings) as config:
        command.upgrade(config, target)


def current_revision(settings: Settings | None = None) -> str | None:
    """The revision the settings' namespace is at, or None before the first one.

    On a history with branches it may be at more than one: they are joined by ``, ``.
    """
    settings = settings or load_settings()
    with database_errors("cannot read the revision"), get_engine(settings).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table_schema": settings.schema}
        )
        return ", ".join(context.get_current_heads()) or None
