"""Hand-tuned columns for the seven shipped tables, layered on the generic generator.

Each recipe gives a table its row count (proportional to users) and the
columns that make the data look real: sessions and posts created after their
user, sessions that expire a week later, popular tags, a mix of post states.
Children are spread over their parents with skew (:meth:`Context.children`):
the same active users have many sessions and many posts, many users have
none. A column a recipe does not return (say, one added to ``user`` later)
is drafted generically, and a table without a recipe still gets valid rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seedbed.synthetic import arrays
from seedbed.synthetic.arrays import SYNTHETIC_DOMAIN, join, numbers
from seedbed.synthetic.generic import Context, Recipe

SESSIONS_PER_USER = 2.0
ACCOUNTS_PER_USER = 1.0
POSTS_PER_USER = 0.5
VERIFICATIONS_PER_USER = 0.2
TAGS_PER_POST = 2  # on average: 0 to 4, mostly 2
_TAG_COUNTS = np.array([0.1, 0.2, 0.4, 0.2, 0.1])

_PROVIDERS = pa.array(["credential", "github", "google"])
_STATUSES = pa.array(["draft", "published", "archived"])
_AGENTS = pa.array(
    [
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
    ]
)
_NULL = pa.scalar(None, pa.string())


def instants(table: pa.Table, column: str) -> np.ndarray:
    """A generated timestamp column as NumPy ``datetime64[us]``."""
    values = table.column(column).combine_chunks()
    return np.asarray(values.view(pa.timestamp("us")).to_numpy(zero_copy_only=False))


def user_columns(rng: np.random.Generator, n: int, first: int = 0) -> dict[str, pa.Array]:
    """``n`` users numbered from ``first``: ``user<i>@synthetic.example`` and so on."""
    index = numbers(np.arange(first, first + n))
    return {
        "id": arrays.uuid4_strings(rng, n),
        "email": join("user", index, f"@{SYNTHETIC_DOMAIN}"),
        "name": join("User ", index),
        "email_verified": pa.array(rng.random(n) < 0.7),
        "image": arrays.null_where(
            join(f"https://img.{SYNTHETIC_DOMAIN}/u/", index, ".png"), rng.random(n) < 0.3
        ),
        "created_at": arrays.timestamp_array(arrays.timestamps(rng, n)),
    }


def _user(ctx: Context) -> dict[str, pa.Array]:
    return user_columns(ctx.rng("user", "recipe"), ctx.users)


def _session(ctx: Context) -> dict[str, pa.Array]:
    users = ctx.tables["user"]
    n = round(users.num_rows * SESSIONS_PER_USER)
    rng = ctx.rng("session", "recipe")
    owner = ctx.children("user", n, "session")
    created = arrays.after(rng, instants(users, "created_at")[owner], days=30)
    return {
        "id": arrays.uuid4_strings(rng, n),
        "user_id": users.column("id").take(pa.array(owner)),
        "token": arrays.hex_tokens(rng, n, "st"),
        "expires_at": arrays.timestamp_array(created + np.timedelta64(7, "D")),
        "ip_address": arrays.ip_addresses(rng, n),
        "user_agent": arrays.pick(rng, _AGENTS, n),
        "created_at": arrays.timestamp_array(created),
    }


def _account(ctx: Context) -> dict[str, pa.Array]:
    users = ctx.tables["user"]
    n = round(users.num_rows * ACCOUNTS_PER_USER)
    rng = ctx.rng("account", "recipe")
    owner = np.arange(n) % max(users.num_rows, 1)
    providers = arrays.pick(rng, _PROVIDERS, n)
    is_password = pc.equal(providers, "credential")
    return {
        "id": arrays.uuid4_strings(rng, n),
        "user_id": users.column("id").take(pa.array(owner)),
        "account_id": numbers(np.arange(n) + 100_000_000),
        "provider_id": providers,
        "access_token": pc.if_else(is_password, _NULL, arrays.hex_tokens(rng, n, "at")),
        "scope": pc.if_else(is_password, _NULL, pa.scalar("openid email")),
        "password": pc.if_else(is_password, arrays.hex_tokens(rng, n, "pw"), _NULL),
        "created_at": arrays.timestamp_array(instants(users, "created_at")[owner]),
    }


def _verification(ctx: Context) -> dict[str, pa.Array]:
    users = ctx.tables["user"]
    n = round(users.num_rows * VERIFICATIONS_PER_USER)
    rng = ctx.rng("verification", "recipe")
    target = rng.integers(0, max(users.num_rows, 1), size=n)
    created = arrays.after(rng, instants(users, "created_at")[target], days=10)
    return {
        "id": arrays.uuid4_strings(rng, n),
        "identifier": users.column("email").take(pa.array(target)),
        "value": arrays.hex_tokens(rng, n, "vf"),
        "expires_at": arrays.timestamp_array(created + np.timedelta64(1, "D")),
        "created_at": arrays.timestamp_array(created),
    }


def _post(ctx: Context) -> dict[str, pa.Array]:
    users = ctx.tables["user"]
    n = round(users.num_rows * POSTS_PER_USER)
    rng = ctx.rng("post", "recipe")
    author = ctx.children("user", n, "post")
    index = numbers(np.arange(n))
    status = rng.choice(3, size=n, p=[0.3, 0.6, 0.1])
    created = arrays.after(rng, instants(users, "created_at")[author], days=60)
    word = arrays.pick(rng, arrays.WORDS, n)
    minutes = numbers(rng.integers(1, 30, size=n))
    metadata = join('{"tags": ["', word, '"], "reading_minutes": ', minutes, "}")
    return {
        "id": arrays.uuid4_strings(rng, n),
        "author_id": users.column("id").take(pa.array(author)),
        "title": join("Notes on ", word, " #", index),
        "slug": join(word, "-notes-", index),
        "body": join("All about ", word),
        "status": _STATUSES.take(pa.array(status)),
        "metadata": arrays.null_where(metadata, rng.random(n) < 0.2),
        "published_at": arrays.timestamp_array(created + np.timedelta64(1, "h"), status != 1),
        "created_at": arrays.timestamp_array(created),
        "deleted_at": arrays.timestamp_array(created + np.timedelta64(2, "D"), rng.random(n) > 0.1),
    }


def _tag(ctx: Context) -> dict[str, pa.Array]:
    n = ctx.roots if ctx.roots is not None else max(8, ctx.users // 200)
    rng = ctx.rng("tag", "recipe")
    return {
        "id": arrays.uuid4_strings(rng, n),
        "name": join(arrays.pick(rng, arrays.WORDS, n), "-", numbers(np.arange(n))),
    }


def _post_tag(ctx: Context) -> dict[str, pa.Array]:
    """0 to 4 tags a post (2 on average), popular tags far more often (weights 1/rank)."""
    posts, tags = ctx.tables["post"], ctx.tables["tag"]
    rng = ctx.rng("post_tag", "recipe")
    per_post = rng.choice(len(_TAG_COUNTS), size=posts.num_rows, p=_TAG_COUNTS)
    post_rows = np.repeat(np.arange(posts.num_rows), per_post)
    popularity = 1.0 / rng.permutation(np.arange(1, tags.num_rows + 1))
    tag_rows = arrays.assign(rng, popularity, len(post_rows))
    pairs = arrays.distinct_sorted(post_rows.astype(np.int64) * max(tags.num_rows, 1) + tag_rows)
    post_rows, tag_rows = np.divmod(pairs, max(tags.num_rows, 1))
    return {
        "post_id": posts.column("id").take(pa.array(post_rows)),
        "tag_id": tags.column("id").take(pa.array(tag_rows)),
    }


RECIPES: dict[str, Recipe] = {
    "user": Recipe(_user),
    "session": Recipe(_session),
    "account": Recipe(
        _account,
        omit=("refresh_token", "id_token", "access_token_expires_at", "refresh_token_expires_at"),
    ),
    "verification": Recipe(_verification),
    "post": Recipe(_post),
    "tag": Recipe(_tag),
    "post_tag": Recipe(_post_tag),
}
