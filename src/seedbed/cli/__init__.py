"""The ``seedbed`` command: a thin layer over the library.

Each subcommand parses its arguments, calls one public function and turns a
:class:`~seedbed.errors.SeedbedError` into a one-line message and exit code:
0 success, 1 invalid data (or a database that differs from the models),
2 usage, file, configuration or connection errors. Subcommands live in the
modules of this package, one module per group, each exposing ``register``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import functools
import gc
import importlib
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from seedbed.config import load_settings
from seedbed.errors import SeedbedError, reason

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line like every other error (exit 2).

    The help is wrapped to the terminal's width, asked once: argparse asks for
    every argument it adds (``docs/decisions/2026-11-process-start-up.md``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _formatter())
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


@functools.cache
def _formatter() -> Callable[..., argparse.HelpFormatter]:
    width = shutil.get_terminal_size().columns - 2  # what argparse computes each time
    return functools.partial(argparse.HelpFormatter, width=width)


#: Every command, in the order ``seedbed --help`` lists them: the module that
#: implements it (its ``register`` adds its commands) and its line in that list.
SUMMARIES: dict[str, tuple[str, str]] = {
    "db": ("seedbed.cli.db", "create, migrate and check the namespaced schema"),
    "load": ("seedbed.cli.data", "validate seed files and load them in one transaction"),
    "generate": ("seedbed.cli.data", "write a synthetic seed set that validates and loads"),
    "docs": (
        "seedbed.cli.docs",
        "write the data-model document from the models (--check: exit 1 if stale)",
    ),
    "validate": (
        "seedbed.cli.validate",
        "check seed files against the model's rules; exit 1 when invalid",
    ),
}


def summary(command: str) -> str:
    """The line that describes ``command`` in ``seedbed --help``."""
    return SUMMARIES[command][1]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; for ``argv``, the one that parses those arguments.

    Given ``argv``, only the command it names is built in full (its module
    imported); every other command is its name and summary, enough for
    ``seedbed --help`` and for argparse's errors. ``seedbed validate`` does not
    import what ``seedbed docs`` or ``seedbed db`` need, nor ``seedbed --help``
    any of them.
    """
    parser = _Parser(
        prog="seedbed",
        description="Declare a PostgreSQL data model once; validate, load and document it.",
        epilog="Start with `seedbed db migrate`, then `seedbed load data/seeds`. "
        "`seedbed COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument(
        "-q",
        "--quiet",
        dest="quiet_all",
        action="store_true",
        help="no progress and no line naming the database; errors still print",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = None if argv is None else _command_in(argv)
    built: set[str] = set()
    for name, (module, line) in SUMMARIES.items():
        if argv is None or module == chosen:
            if module not in built:
                importlib.import_module(module).register(commands)
                built.add(module)
        else:
            commands.add_parser(name, help=line)
    _quiet_after_the_command(parser)
    return parser


def _quiet_after_the_command(parser: argparse.ArgumentParser) -> None:
    """``-q``/``--quiet`` after a command too (``seedbed db check -q``), as before it: added to
    every command's parser that does not take it already."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in set(action.choices.values()):
                taken = command._option_string_actions
                if "--quiet" not in taken:
                    command.add_argument(
                        "-q",
                        "--quiet",
                        dest="quiet_all",
                        action="store_true",
                        default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS,
                    )
                elif "-q" not in taken:
                    command.add_argument(
                        "-q",
                        dest=taken["--quiet"].dest,
                        action="store_true",
                        help=argparse.SUPPRESS,
                    )
                _quiet_after_the_command(command)


def _command_in(argv: Sequence[str]) -> str | None:
    """The module of the command ``argv`` names: its first word that is not an option.

    The options before a command take no value, so that word is the command;
    None when there is none, or it is no command (argparse then says so).
    """
    for word in argv:
        if word == "--":
            break
        if not word.startswith("-"):
            found = SUMMARIES.get(word)
            return None if found is None else found[0]
    return None


class _Version(argparse._VersionAction):
    """``--version``: the installed version, read only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from seedbed import __version__

        self.version = f"seedbed {__version__}"
        super().__call__(parser, *args, **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seedbed`` console script; returns the exit code.

    The only place that prints an error: a :class:`SeedbedError` as one line
    with its exit code; a closed pipe (``seedbed validate --json | head -1``)
    quietly, with exit 141 as for any program stopped by SIGPIPE; anything
    unexpected as one line naming it, exit 70 (``SEEDBED_DEBUG=1`` re-raises
    it with its traceback).
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    if args.command is None:  # bare `seedbed`: what it can do, not a usage error
        parser.print_help()
        return 0
    if args.quiet_all:
        args.quiet = True
    handler: Handler = args.handler
    try:
        settings = load_settings()  # every command refuses bad settings first, used or not
        if getattr(args, "uses_database", False):
            from seedbed.cli._output import announce

            announce(settings, getattr(args, "quiet", False))
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except SeedbedError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted", prefix="seedbed: ")
        return 130
    except BrokenPipeError:
        # The Python documentation's recipe: send what remains to devnull, so the
        # interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        if os.environ.get("SEEDBED_DEBUG"):
            raise
        _error(f"unexpected {type(exc).__name__}: {reason(exc)} (SEEDBED_DEBUG=1 shows where)")
        return 70


def run() -> NoReturn:
    """The ``seedbed`` console script and ``python -m seedbed``: :func:`main`, then exit.

    A finished command ends the way a C program does: the output is flushed
    and the exit handlers run (they let go of the embedded server), but the
    interpreter does not tear down every module it loaded, which is slow after
    pandas, pyarrow and SQLAlchemy and changes nothing outside the process
    (``docs/decisions/2026-11-process-start-up.md``). Every thread seedbed
    starts has been joined by then.

    The command runs without Python's cycle collector. Reference counting
    frees what it lets go of; the collector walked the imported libraries'
    objects again and again, and a failing file's report, for no lower peak
    (``docs/decisions/2026-12-05-cycle-collector.md``).
    """
    lean_allocators()
    gc.disable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed: nothing left to say
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)


#: The ``seedbed`` process's allocators give freed memory back within a tenth of a
#: second: Arrow's mimalloc and Polars' jemalloc, which otherwise keep it longer (and
#: ``lean_allocators`` caps glibc's per-thread arenas at two, and gives blocks of
#: ``MMAP_THRESHOLD`` bytes or more their own pages, returned when freed).
LEAN_ALLOCATORS = {
    "MIMALLOC_PURGE_DELAY": "100",  # ms; 0 faults the same pages in again and again
    "_RJEM_MALLOC_CONF": "dirty_decay_ms:100,muzzy_decay_ms:0",
}
M_ARENA_MAX = -8  # glibc's mallopt parameters
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 << 20


def lean_allocators() -> None:
    """Keep the process's peak memory down, before pyarrow and Polars are imported.

    For the ``seedbed`` command only: a notebook that imports seedbed keeps its
    own allocators. Settings already in the environment win. See
    ``docs/decisions/2026-12-05-columnar-engine.md`` for what each one saves.
    """
    for name, value in LEAN_ALLOCATORS.items():
        os.environ.setdefault(name, value)
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to set
        libc = ctypes.CDLL(None)
        if "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(M_ARENA_MAX, 2)
        if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # else glibc raises it as blocks are freed
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def _error(message: str, prefix: str = "seedbed: error: ") -> None:
    text = " ".join(message.split())  # one line, whatever the message held
    with contextlib.suppress(OSError):  # stderr closed too: the exit code is all that is left
        print(f"{prefix}{text}", file=sys.stderr, flush=True)
