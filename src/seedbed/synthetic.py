"""Deterministic, foreign-key-consistent synthetic seed sets at any scale.

``generate_seed_set(users, out_dir, seed=0)`` writes one CSV per table; rows of
every other table are proportional to ``users``. Columns are built as NumPy
arrays and Arrow compute kernels (no per-row Python, no ``np.char``) and
written by pyarrow's CSV writer, so a million users take a few seconds.

``invalid_fraction`` breaks about that fraction of the rows of every table,
each in one of a few ways the validator (and the database) must catch: a bad
email or URL, a malformed UUID, ``expires_at`` before ``created_at``, a bad
slug, a published post without ``published_at``, a dangling foreign key. The
valid rows stay the same as without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from seedbed.errors import SeedError, map_errors

SESSIONS_PER_USER = 2.0
ACCOUNTS_PER_USER = 1.0
POSTS_PER_USER = 0.5
VERIFICATIONS_PER_USER = 0.2
TAGS_PER_POST = 2

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_EPOCH = np.datetime64("2024-01-01T00:00:00", "us")
_DAY_US = 86_400_000_000
_PROVIDERS = pa.array(["credential", "github", "google"])
_STATUSES = pa.array(["draft", "published", "archived"])
_AGENTS = pa.array(
    [
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
    ]
)
_WORDS = pa.array(
    ["data", "model", "seed", "postgres", "index", "query", "schema", "copy", "notes", "guide"]
)


def _fixed_width_strings(data: np.ndarray) -> pa.Array:
    """A string array from an (n, width) uint8 array of ASCII, without copying per row."""
    n, width = data.shape
    string_type = pa.string() if n * width < 2**31 else pa.large_string()
    offset_type = np.int32 if string_type == pa.string() else np.int64
    offsets = np.arange(0, (n + 1) * width, width, dtype=offset_type)
    return pa.Array.from_buffers(
        string_type, n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
    )


def _hex(raw: np.ndarray) -> np.ndarray:
    nibbles = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    nibbles[:, 0::2] = _HEX[raw >> 4]
    nibbles[:, 1::2] = _HEX[raw & 0x0F]
    return nibbles


def uuid4_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random lowercase UUID v4 strings, vectorised."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = _hex(raw)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, stop, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, at : at + stop - start] = nibbles[:, start:stop]
    return _fixed_width_strings(out)


def numbers(values: np.ndarray) -> pa.Array:
    """Integers as decimal strings."""
    return pc.cast(pa.array(values), pa.string())


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and constants."""
    return pc.binary_join_element_wise(*parts, "")


def hex_tokens(rng: np.random.Generator, n: int, prefix: str) -> pa.Array:
    """Unique opaque tokens: a counter (for uniqueness) plus 24 random hex chars."""
    random_part = _fixed_width_strings(_hex(rng.integers(0, 256, size=(n, 12), dtype=np.uint8)))
    return join(f"{prefix}_", numbers(np.arange(n)), random_part)


def _timestamps(rng: np.random.Generator, n: int, days: int = 365) -> np.ndarray:
    offsets = rng.integers(0, days * _DAY_US, size=n)
    return _EPOCH + offsets.astype("timedelta64[us]")


def _ts(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """UTC timestamps as ISO 8601 text: Arrow formats tz-aware values 10x slower."""
    naive = pa.array(values, type=pa.timestamp("us"), mask=mask)
    return join(pc.cast(naive, pa.string()), "Z")


def _ip_addresses(rng: np.random.Generator, n: int) -> pa.Array:
    octets = rng.integers(1, 255, size=(n, 4))
    return pc.binary_join_element_wise(*(numbers(octets[:, i]) for i in range(4)), ".")


def _pick(rng: np.random.Generator, values: pa.Array, n: int) -> pa.Array:
    return values.take(pa.array(rng.integers(0, len(values), size=n)))


Breakage = Callable[[pa.Table], pa.Table]


def _set(table: pa.Table, column: str, values: pa.Array, rows: np.ndarray) -> pa.Table:
    """``table`` with ``column`` replaced by ``values`` where ``rows`` is True."""
    index = table.schema.get_field_index(column)
    old = table.column(column).combine_chunks()
    new = pc.if_else(pa.array(rows), values.cast(old.type), old)
    return table.set_column(index, column, new)


def _break(
    table: pa.Table, rng: np.random.Generator, fraction: float, ways: list[Breakage]
) -> pa.Table:
    """Apply one of ``ways`` (chosen per row) to about ``fraction`` of the rows."""
    broken = rng.random(table.num_rows) < fraction
    way = rng.integers(0, len(ways), size=table.num_rows)
    for i, apply in enumerate(ways):
        rows = broken & (way == i)
        if rows.any():
            changed = apply(table)
            for name in changed.column_names:
                if not changed.column(name).equals(table.column(name)):
                    table = _set(table, name, changed.column(name).combine_chunks(), rows)
    return table


def _text(table: pa.Table, column: str, fn: Callable[[pa.Array], pa.Array]) -> pa.Table:
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, fn(table.column(column).combine_chunks()))


def _ways(name: str) -> list[Breakage]:
    """How rows of each table get broken for ``invalid_fraction``."""
    never = pa.scalar(None, pa.string())
    bad_uuid: Breakage = lambda t: _text(t, "id", lambda c: pc.utf8_replace_slice(c, 14, 15, "1"))  # noqa: E731
    if name == "user":
        return [
            lambda t: _text(t, "email", lambda c: pc.replace_substring(c, "@", " at ")),
            lambda t: _text(t, "image", lambda c: join("ftp://", pc.fill_null(c, "x"))),
            bad_uuid,
        ]
    if name == "session":
        return [
            lambda t: t.set_column(
                t.schema.get_field_index("expires_at"), "expires_at", t.column("created_at")
            ),
            lambda t: _text(t, "ip_address", lambda c: join("999.", c)),
        ]
    if name == "account":
        return [lambda t: _text(t, "provider_id", lambda c: pc.if_else(True, never, c)), bad_uuid]
    if name == "post":
        return [
            lambda t: _text(t, "slug", lambda c: join("Bad Slug ", c)),
            lambda t: _text(t, "title", lambda c: pc.utf8_rpad(c, 201, "x")),
            lambda t: _text(
                t, "status", lambda c: pc.if_else(True, pa.scalar("published"), c)
            ).set_column(
                t.schema.get_field_index("published_at"),
                "published_at",
                pa.nulls(t.num_rows, pa.string()),
            ),
            lambda t: _text(t, "metadata", lambda c: pa.array(['{"color": "red"}'] * len(c))),
        ]
    if name == "tag":
        return [lambda t: _text(t, "name", lambda c: pc.utf8_rpad(c, 65, "x"))]
    if name == "post_tag":
        return [
            lambda t: _text(t, "post_id", lambda c: uuid4_strings(np.random.default_rng(7), len(c)))
        ]
    return [lambda t: _text(t, "identifier", lambda c: pc.if_else(True, never, c))]


def _users(rng: np.random.Generator, n: int, first: int = 0) -> tuple[pa.Table, np.ndarray]:
    """``n`` users numbered from ``first``, and their creation times."""
    user_ids = uuid4_strings(rng, n)
    user_created = _timestamps(rng, n)
    index = numbers(np.arange(first, first + n))
    no_image = rng.random(n) < 0.3
    table = pa.table(
        {
            "id": user_ids,
            "email": join("user", index, "@example.com"),
            "name": join("User ", index),
            "email_verified": rng.random(n) < 0.7,
            "image": pc.if_else(
                pa.array(no_image),
                pa.scalar(None, pa.string()),
                join("https://img.example.com/u/", index, ".png"),
            ),
            "created_at": _ts(user_created),
        }
    )
    return table, user_created


def generate_users_csv(
    users: int, path: Path | str, seed: int = 0, chunk_rows: int = 1_000_000
) -> int:
    """Write a ``user.csv`` of any size in bounded memory (for memory benchmarks); return rows."""
    rng = np.random.default_rng(seed)
    with pacsv.CSVWriter(Path(path), _users(rng, 0)[0].schema) as writer:
        for first in range(0, users, chunk_rows):
            table, _ = _users(rng, min(chunk_rows, users - first), first)
            writer.write_table(table)
    return users


def generate_tables(
    users: int, seed: int = 0, invalid_fraction: float = 0.0
) -> dict[str, pa.Table]:
    """The whole seed set as pyarrow tables, keyed by table name, parents first."""
    if not 0.0 <= invalid_fraction <= 1.0:
        raise ValueError(f"invalid_fraction must be between 0 and 1, got {invalid_fraction}")
    rng = np.random.default_rng(seed)
    n_users = users
    tables: dict[str, pa.Table] = {}
    tables["user"], user_created = _users(rng, n_users)
    user_ids = tables["user"].column("id").combine_chunks()

    n_sessions = round(n_users * SESSIONS_PER_USER)
    owner = rng.integers(0, n_users, size=n_sessions)
    session_created = user_created[owner] + rng.integers(0, 30 * _DAY_US, size=n_sessions).astype(
        "timedelta64[us]"
    )
    tables["session"] = pa.table(
        {
            "id": uuid4_strings(rng, n_sessions),
            "user_id": user_ids.take(pa.array(owner)),
            "token": hex_tokens(rng, n_sessions, "st"),
            "expires_at": _ts(session_created + np.timedelta64(7, "D")),
            "ip_address": _ip_addresses(rng, n_sessions),
            "user_agent": _pick(rng, _AGENTS, n_sessions),
            "created_at": _ts(session_created),
        }
    )

    n_accounts = round(n_users * ACCOUNTS_PER_USER)
    owner = np.arange(n_accounts) % max(n_users, 1)
    providers = _pick(rng, _PROVIDERS, n_accounts)
    is_password = pc.equal(providers, "credential")
    null = pa.scalar(None, pa.string())
    tables["account"] = pa.table(
        {
            "id": uuid4_strings(rng, n_accounts),
            "user_id": user_ids.take(pa.array(owner)),
            "account_id": numbers(np.arange(n_accounts)),
            "provider_id": providers,
            "access_token": pc.if_else(is_password, null, hex_tokens(rng, n_accounts, "at")),
            "scope": pc.if_else(is_password, null, pa.scalar("openid email")),
            "password": pc.if_else(is_password, hex_tokens(rng, n_accounts, "pw"), null),
            "created_at": _ts(user_created[owner]),
        }
    )

    n_verifications = round(n_users * VERIFICATIONS_PER_USER)
    target = rng.integers(0, n_users, size=n_verifications)
    verification_created = user_created[target]
    tables["verification"] = pa.table(
        {
            "id": uuid4_strings(rng, n_verifications),
            "identifier": join("user", numbers(target), "@example.com"),
            "value": hex_tokens(rng, n_verifications, "vf"),
            "expires_at": _ts(verification_created + np.timedelta64(1, "D")),
            "created_at": _ts(verification_created),
        }
    )

    n_posts = round(n_users * POSTS_PER_USER)
    post_index = numbers(np.arange(n_posts))
    author = rng.integers(0, n_users, size=n_posts)
    status_code = rng.choice(3, size=n_posts, p=[0.3, 0.6, 0.1])
    unpublished = status_code != 1
    post_created = user_created[author] + rng.integers(0, 60 * _DAY_US, size=n_posts).astype(
        "timedelta64[us]"
    )
    minutes = numbers(rng.integers(1, 30, size=n_posts))
    word = _pick(rng, _WORDS, n_posts)
    metadata = join('{"tags": ["', word, '"], "reading_minutes": ', minutes, "}")
    tables["post"] = pa.table(
        {
            "id": (post_ids := uuid4_strings(rng, n_posts)),
            "author_id": user_ids.take(pa.array(author)),
            "title": join("Notes on ", word, " #", post_index),
            "slug": join(word, "-", post_index),
            "body": join("All about ", word),
            "status": _STATUSES.take(pa.array(status_code)),
            "metadata": pc.if_else(pa.array(rng.random(n_posts) < 0.2), null, metadata),
            "published_at": _ts(post_created + np.timedelta64(1, "h"), mask=unpublished),
            "created_at": _ts(post_created),
            "deleted_at": _ts(
                post_created + np.timedelta64(2, "D"), mask=rng.random(n_posts) > 0.1
            ),
        }
    )

    n_tags = max(8, users // 200)
    tag_ids = uuid4_strings(rng, n_tags)
    tables["tag"] = pa.table({"id": tag_ids, "name": join("tag-", numbers(np.arange(n_tags)))})

    per_post = min(TAGS_PER_POST, n_tags)
    post_rows = np.repeat(np.arange(n_posts), per_post)
    first_tag = rng.integers(0, n_tags, size=n_posts)
    tag_rows = (np.repeat(first_tag, per_post) + np.tile(np.arange(per_post), n_posts)) % n_tags
    tables["post_tag"] = pa.table(
        {"post_id": post_ids.take(pa.array(post_rows)), "tag_id": tag_ids.take(pa.array(tag_rows))}
    )

    if invalid_fraction > 0:
        breaker = np.random.default_rng([seed, 1])
        for name, table in tables.items():
            tables[name] = _break(table, breaker, invalid_fraction, _ways(name))
    return tables


def generate_seed_set(
    users: int, out_dir: Path | str, seed: int = 0, invalid_fraction: float = 0.0
) -> dict[str, int]:
    """Write one CSV per table into ``out_dir``; return row counts per table.

    >>> generate_seed_set(1000, "data/demo", seed=1)           # doctest: +SKIP
    {'user': 1000, 'session': 2000, 'account': 1000, ...}
    """
    if users < 0:
        raise SeedError(f"cannot generate {users} users: give 0 or more")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SeedError(f"cannot write into {out}: it is a file, not a folder")
    counts: dict[str, int] = {}
    with map_errors({(OSError, pa.ArrowException): SeedError}, f"cannot write into {out}"):
        out.mkdir(parents=True, exist_ok=True)
        for name, table in generate_tables(users, seed, invalid_fraction).items():
            pacsv.write_csv(table, out / f"{name}.csv")
            counts[name] = table.num_rows
    return counts
