"""Deterministic, foreign-key-consistent synthetic seed sets at any scale.

``generate_seed_set(users, out_dir, seed=0)`` writes one CSV per table; rows of
every other table are proportional to ``users``. Columns are built as NumPy
arrays and written with pyarrow, so millions of rows take seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

SESSIONS_PER_USER = 2.0
ACCOUNTS_PER_USER = 1.0
POSTS_PER_USER = 0.5
VERIFICATIONS_PER_USER = 0.2
TAGS_PER_POST = 2

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_EPOCH = np.datetime64("2024-01-01T00:00:00", "us")
_PROVIDERS = np.array(["credential", "github", "google"])
_STATUSES = np.array(["draft", "published", "archived"])
_AGENTS = np.array(
    [
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
    ]
)
_WORDS = np.array(
    ["data", "model", "seed", "postgres", "index", "query", "schema", "copy", "notes", "guide"]
)


def uuid4_strings(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random lowercase UUID v4 strings, vectorised."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = _HEX[raw >> 4]
    nibbles[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, stop, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, at : at + stop - start] = nibbles[:, start:stop]
    return out.view("S36").ravel().astype(str)


def hex_tokens(rng: np.random.Generator, n: int, prefix: str) -> np.ndarray:
    """Unique opaque tokens: a counter (for uniqueness) plus 24 random hex chars."""
    raw = rng.integers(0, 256, size=(n, 12), dtype=np.uint8)
    nibbles = np.empty((n, 24), dtype=np.uint8)
    nibbles[:, 0::2] = _HEX[raw >> 4]
    nibbles[:, 1::2] = _HEX[raw & 0x0F]
    random_part = nibbles.view("S24").ravel().astype(str)
    return np.char.add(np.char.add(f"{prefix}_", np.arange(n).astype(str)), random_part)


def _timestamps(rng: np.random.Generator, n: int, days: int = 365) -> np.ndarray:
    offsets = rng.integers(0, days * 86_400_000_000, size=n)
    return _EPOCH + offsets.astype("timedelta64[us]")


def _ts(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(values, type=pa.timestamp("us", tz="UTC"), mask=mask)


def _ip_addresses(rng: np.random.Generator, n: int) -> np.ndarray:
    octets = rng.integers(1, 255, size=(n, 4)).astype(str)
    dotted = octets[:, 0]
    for i in range(1, 4):
        dotted = np.char.add(np.char.add(dotted, "."), octets[:, i])
    return dotted


def generate_tables(users: int, seed: int = 0) -> dict[str, pa.Table]:
    """The whole seed set as pyarrow tables, keyed by table name."""
    rng = np.random.default_rng(seed)
    n_users = users
    user_ids = uuid4_strings(rng, n_users)
    user_created = _timestamps(rng, n_users)
    index = np.arange(n_users).astype(str)
    names = np.char.add("User ", index)
    no_image = rng.random(n_users) < 0.3
    tables: dict[str, pa.Table] = {}
    tables["user"] = pa.table(
        {
            "id": user_ids,
            "email": np.char.add(np.char.add("user", index), "@example.com"),
            "name": names,
            "email_verified": rng.random(n_users) < 0.7,
            "image": pa.array(
                np.char.add(np.char.add("https://img.example.com/u/", index), ".png"),
                mask=no_image,
            ),
            "created_at": _ts(user_created),
        }
    )

    n_sessions = round(n_users * SESSIONS_PER_USER)
    owner = rng.integers(0, n_users, size=n_sessions)
    session_created = user_created[owner] + rng.integers(
        0, 30 * 86_400_000_000, size=n_sessions
    ).astype("timedelta64[us]")
    tables["session"] = pa.table(
        {
            "id": uuid4_strings(rng, n_sessions),
            "user_id": user_ids[owner],
            "token": hex_tokens(rng, n_sessions, "st"),
            "expires_at": _ts(session_created + np.timedelta64(7, "D")),
            "ip_address": _ip_addresses(rng, n_sessions),
            "user_agent": _AGENTS[rng.integers(0, len(_AGENTS), size=n_sessions)],
            "created_at": _ts(session_created),
        }
    )

    n_accounts = round(n_users * ACCOUNTS_PER_USER)
    owner = np.arange(n_accounts) % n_users
    providers = _PROVIDERS[rng.integers(0, len(_PROVIDERS), size=n_accounts)]
    is_password = providers == "credential"
    tables["account"] = pa.table(
        {
            "id": uuid4_strings(rng, n_accounts),
            "user_id": user_ids[owner],
            "account_id": np.arange(n_accounts).astype(str),
            "provider_id": providers,
            "access_token": pa.array(hex_tokens(rng, n_accounts, "at"), mask=is_password),
            "scope": pa.array(np.full(n_accounts, "openid email"), mask=is_password),
            "password": pa.array(hex_tokens(rng, n_accounts, "pw"), mask=~is_password),
            "created_at": _ts(user_created[owner]),
        }
    )

    n_verifications = round(n_users * VERIFICATIONS_PER_USER)
    target = rng.integers(0, n_users, size=n_verifications)
    verification_created = user_created[target]
    tables["verification"] = pa.table(
        {
            "id": uuid4_strings(rng, n_verifications),
            "identifier": np.char.add(np.char.add("user", target.astype(str)), "@example.com"),
            "value": hex_tokens(rng, n_verifications, "vf"),
            "expires_at": _ts(verification_created + np.timedelta64(1, "D")),
            "created_at": _ts(verification_created),
        }
    )

    n_posts = round(n_users * POSTS_PER_USER)
    post_index = np.arange(n_posts).astype(str)
    author = rng.integers(0, n_users, size=n_posts)
    status = _STATUSES[rng.choice(3, size=n_posts, p=[0.3, 0.6, 0.1])]
    post_created = user_created[author] + rng.integers(0, 60 * 86_400_000_000, size=n_posts).astype(
        "timedelta64[us]"
    )
    minutes = rng.integers(1, 30, size=n_posts).astype(str)
    word = _WORDS[rng.integers(0, len(_WORDS), size=n_posts)]
    metadata = np.char.add(
        np.char.add(np.char.add('{"tags": ["', word), '"], "reading_minutes": '), minutes
    )
    metadata = np.char.add(metadata, "}")
    tables["post"] = pa.table(
        {
            "id": (post_ids := uuid4_strings(rng, n_posts)),
            "author_id": user_ids[author],
            "title": np.char.add(np.char.add("Notes on ", word), np.char.add(" #", post_index)),
            "slug": np.char.add(np.char.add(word, "-"), post_index),
            "body": np.char.add("All about ", word),
            "status": status,
            "metadata": pa.array(metadata, mask=rng.random(n_posts) < 0.2),
            "published_at": _ts(post_created + np.timedelta64(1, "h"), mask=status != "published"),
            "created_at": _ts(post_created),
            "deleted_at": _ts(
                post_created + np.timedelta64(2, "D"), mask=rng.random(n_posts) > 0.1
            ),
        }
    )

    n_tags = max(8, users // 200)
    tag_index = np.arange(n_tags).astype(str)
    tag_ids = uuid4_strings(rng, n_tags)
    tables["tag"] = pa.table({"id": tag_ids, "name": np.char.add("tag-", tag_index)})

    per_post = min(TAGS_PER_POST, n_tags)
    post_rows = np.repeat(np.arange(n_posts), per_post)
    first_tag = rng.integers(0, n_tags, size=n_posts)
    tag_rows = (np.repeat(first_tag, per_post) + np.tile(np.arange(per_post), n_posts)) % n_tags
    tables["post_tag"] = pa.table({"post_id": post_ids[post_rows], "tag_id": tag_ids[tag_rows]})
    return tables


def generate_seed_set(users: int, out_dir: Path | str, seed: int = 0) -> dict[str, int]:
    """Write one CSV per table into ``out_dir``; return row counts per table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, table in generate_tables(users, seed).items():
        pacsv.write_csv(table, out / f"{name}.csv")
        counts[name] = table.num_rows
    return counts
