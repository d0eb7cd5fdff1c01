"""psycopg loaders with which the explore helpers read every value as the DataFrame
load takes it back: one place for how each type is read.

Registered on each cursor of one execution (:class:`TimesAsText`, :class:`JsonKept`),
never on the connection: the time types as PostgreSQL's text, typed column by column
in :mod:`seedbed.explore._core`; arrays, ranges and multiranges by psycopg's loaders with
the times inside them read as a time column holds them (``infinity``, years BC and past
9999 too); intervals and arrays that a ``timedelta`` or a list would change refused.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pyarrow as pa
from psycopg.types.string import TextLoader

from seedbed.facts import ColumnSpec
from seedbed.facts import spec as kinds
from seedbed.validation.coerce import arrow_series, coerce_text

#: The time types read as their text and typed column by column, by OID.
TIME_KINDS = {1184: kinds.TIMESTAMPTZ, 1114: kinds.TIMESTAMP, 1082: kinds.DATE}
_INTERVAL = 1186
_TIME_NAMES = ("timestamptz", "timestamp", "date", "interval")
_RANGE_NAMES = ("tstzrange", "tsrange", "daterange", "tstzmultirange", "tsmultirange")
#: Types holding times or intervals (arrays, ranges, multiranges, and arrays of those), by
#: OID: read by psycopg's own loaders, with their elements read by :class:`_ElementContext`.
_HOLDING_TIMES = {
    oid
    for name in (*_TIME_NAMES, *_RANGE_NAMES, "datemultirange")
    if (info := psycopg.postgres.types.get(name)) is not None
    for oid in ((info.array_oid,) if name in _TIME_NAMES else (info.oid, info.array_oid))
}


def _held_time(text: str, kind: str) -> Any:
    """A time psycopg cannot hold (``infinity``, years BC or past 9999) as a time column
    holds it: a pandas ``Timestamp``, or a date's NumPy ``datetime64``."""
    column = ColumnSpec("v", kind, True, False, False, kind)
    read = coerce_text(column, pa.array([text], pa.string()))
    if read.bad.any():
        raise psycopg.DataError(f"{kind} {text!r} cannot be held in a DataFrame")
    return arrow_series(read.values).iloc[0]


class _TimeElement(psycopg.adapt.Loader):
    """A time inside an array, range or multirange: as the connection's loader reads it,
    and one it cannot hold as :func:`_held_time` holds it."""

    def __init__(self, oid: int, context: psycopg.abc.AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        loader = _adapters(self.connection).get_loader(oid, self.format)
        assert loader is not None  # psycopg loads every time type
        self._loader = loader(oid, self.connection)
        self._kind = TIME_KINDS[oid]

    def load(self, data: psycopg.abc.Buffer) -> Any:
        try:
            return self._loader.load(data)
        except (psycopg.DataError, NotImplementedError):  # e.g. BC; a DateStyle it cannot read
            return _held_time(bytes(data).decode(), self._kind)


class _WholeInterval(psycopg.adapt.Loader):
    """An interval as a ``timedelta``, as the connection's loader reads it; one with months
    or years (which a ``timedelta`` would hold as 30 and 365 days) is refused."""

    def __init__(self, oid: int, context: psycopg.abc.AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        loader = _adapters(self.connection).get_loader(oid, self.format)
        assert loader is not None
        self._loader = loader(oid, self.connection)

    def load(self, data: psycopg.abc.Buffer) -> Any:
        text = bytes(data)
        if b"mon" in text or b"year" in text:
            raise psycopg.DataError(
                f"interval {text.decode()!r} has months or years, which a timedelta cannot "
                "hold (a month is not 30 days): select it as text"
            )
        return self._loader.load(data)


def _adapters(conn: Any) -> psycopg.adapt.AdaptersMap:
    return conn.adapters if conn is not None else psycopg.postgres.adapters


class _ElementContext:
    """The context of the loaders inside arrays, ranges and multiranges: the connection's
    loaders, with times and intervals read by :class:`_TimeElement` and :class:`_WholeInterval`."""

    def __init__(self, conn: Any) -> None:
        self.connection = conn
        self.adapters = psycopg.adapt.AdaptersMap(_adapters(conn))
        for oid in TIME_KINDS:
            self.adapters.register_loader(oid, _TimeElement)
        self.adapters.register_loader(_INTERVAL, _WholeInterval)


class _AsBefore(psycopg.adapt.Loader):
    """A type holding times or intervals, loaded as the connection loads it, its elements
    read by :class:`_ElementContext`'s loaders."""

    def __init__(self, oid: int, context: psycopg.abc.AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        conn = self.connection
        loader = _adapters(conn).get_loader(oid, self.format)
        if loader is None:  # not a type psycopg knows: as text, as psycopg falls back
            loader = TextLoader
        self._loader = loader(oid, _ElementContext(conn))

    def load(self, data: psycopg.abc.Buffer) -> Any:
        return self._loader.load(data)


class _WholeArray(_AsBefore):
    """An array, as :class:`_AsBefore` loads it; one with bounds of its own (``[0:1]={1,2}``),
    which a list would lose, is refused."""

    def load(self, data: psycopg.abc.Buffer) -> Any:
        if bytes(data[:1]) == b"[":
            raise psycopg.DataError(
                f"array {bytes(data).decode()!r} has bounds of its own, which a list cannot "
                "hold: select it as text"
            )
        return self._loader.load(data)


#: Every array type psycopg reads, by OID.
_ARRAYS = {info.array_oid for info in psycopg.postgres.types if info.array_oid}


class TimesAsText:
    """Registers, on each cursor of one execution, loaders that keep the time types
    as PostgreSQL writes them, when it writes them in ISO form (``DateStyle``), and
    that read the times inside arrays and ranges, and intervals, exactly."""

    def __init__(self) -> None:
        self.zone: str | None = None  # the session's TimeZone, once a cursor took the loaders

    def __call__(self, conn: Any, cursor: Any, *args: Any) -> None:
        info = getattr(cursor, "connection", None)
        info = getattr(info, "info", None)
        if not isinstance(info, psycopg.ConnectionInfo):
            return
        for oid in _ARRAYS:
            cursor.adapters.register_loader(oid, _WholeArray)
        for oid in _HOLDING_TIMES - _ARRAYS:
            cursor.adapters.register_loader(oid, _AsBefore)
        cursor.adapters.register_loader(_INTERVAL, _WholeInterval)
        if not (info.parameter_status("DateStyle") or "").startswith("ISO"):
            return  # e.g. SQL, German: psycopg's loaders read those
        for oid in TIME_KINDS:
            cursor.adapters.register_loader(oid, TextLoader)
        self.zone = info.parameter_status("TimeZone") or "UTC"


class _JsonScalarsAsText(psycopg.adapt.Loader):
    """A JSON value as the connection's loader reads it, but a JSON ``null`` or string as
    its JSON text (``null``, ``"x"``): as ``None`` and ``x`` the load would write NULL
    and read ``x`` as JSON text."""

    def __init__(self, oid: int, context: psycopg.abc.AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        loader = _adapters(self.connection).get_loader(oid, self.format)
        self._loader = (loader or TextLoader)(oid, self.connection)

    def load(self, data: psycopg.abc.Buffer) -> Any:
        text = bytes(data)
        first = text.strip()[:1]
        if first == b'"' or text.strip() == b"null":
            return text.decode()
        return self._loader.load(data)


class JsonKept(TimesAsText):
    """:class:`TimesAsText`, and JSON ``null`` and strings as their JSON text."""

    def __call__(self, conn: Any, cursor: Any, *args: Any) -> None:
        super().__call__(conn, cursor, *args)
        if hasattr(cursor, "adapters"):
            for name in ("json", "jsonb"):
                cursor.adapters.register_loader(name, _JsonScalarsAsText)


__all__ = ["TIME_KINDS", "JsonKept", "TimesAsText"]
