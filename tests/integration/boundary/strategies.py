"""Hypothesis strategies for values at and beyond every boundary of `domain.limits`.

Bodies are built as Python values and sent as `json.dumps` text, which writes a NUL as
`\\u0000` and a lone surrogate as `\\ud800`: the escapes a hostile client would send.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from domain import limits

ODD = [
    "\x00",
    "\ud800",
    "\udfff",
    "\ud83d",
    "\ufffe",
    "\uffff",
    "\u202e",
    "\u0301",
    "\U0001f600",
    "\t",
    "\n",
    " ",
    "%00",
    '"',
    "\\",
    "中",
    "é",
]
WIDE = ["a", "é", "中", "\U0001f600"]
"""One to four bytes a character in UTF-8: the same length in characters, four sizes in bytes."""

INT_EDGES = [
    0,
    -1,
    1,
    limits.INT32_MAX,
    limits.INT32_MAX + 1,
    -(2**31),
    -(2**31) - 1,
    limits.INT64_MAX,
    limits.INT64_MAX + 1,
    limits.INT64_MIN - 1,
    2**64,
    10**20,
    -(10**30),
]


def ints(low: int | None = None, high: int | None = None) -> st.SearchStrategy[int]:
    """The edges of every integer type; given a valid range, half the time a value inside it."""
    edges = st.one_of(st.sampled_from(INT_EDGES), st.integers(-(2**70), 2**70))
    if low is None or high is None:
        return st.one_of(edges, st.integers(-3, 300))
    return st.one_of(edges, st.integers(low, high), st.sampled_from([low, high]))


def texts(*limits_at: int) -> st.SearchStrategy[str]:
    """Short text of any characters, odd characters, and texts around each length in `limits_at`."""
    around = [
        st.tuples(st.integers(max(n - 2, 0), n + 2), st.sampled_from(WIDE)).map(
            lambda pair: pair[1] * pair[0]
        )
        for n in limits_at
    ]
    plain = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
    odd = st.lists(st.sampled_from(ODD) | st.characters(), min_size=1, max_size=30).map("".join)
    # Mostly text a field takes, so that each example pushes only a field or two past a limit.
    return st.one_of(plain, plain, plain, odd, st.just(""), *around, *around)


def deep(levels: int, leaf: Any = 1) -> Any:
    """A value nested `levels` deep, alternating lists and objects."""
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def junk() -> st.SearchStrategy[Any]:
    """Anything JSON holds: the wrong type for most fields, or nested past any reason."""
    scalars = st.one_of(st.none(), st.booleans(), ints(), st.floats(allow_nan=False), texts())
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=3),
        st.dictionaries(texts(), scalars, max_size=3),
        st.integers(1, 200).map(deep),
    )


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `strategy`, one time in ten a value of the wrong type."""
    return st.integers(0, 9).flatmap(lambda n: junk() if n == 0 else strategy)


def body(
    needed: tuple[str, ...] = (), **fields: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """An object with the `needed` fields and any subset of the others; now and then with an
    unknown field, or without a needed one."""
    required = {name: maybe(s) for name, s in fields.items() if name in needed}
    optional = {name: maybe(s) for name, s in fields.items() if name not in needed}
    chosen = st.fixed_dictionaries(required, optional=optional)
    return st.tuples(chosen, st.integers(0, 19)).map(lambda pair: _vary(*pair, needed))


def _vary(chosen: dict[str, Any], dice: int, needed: tuple[str, ...]) -> dict[str, Any]:
    if dice == 0:
        return {**chosen, "unknown_field": 1}
    if dice == 1 and needed:
        return {k: v for k, v in chosen.items() if k != needed[0]}
    return chosen


NAMES = ["TARGET", "N", "X"]
"""The fuzzed pipeline's parameters: a string, an integer and a number."""
STATUSES = ["queued", "running", "succeeded", "failed", "timed_out", "cancelled"]


def run_request() -> st.SearchStrategy[dict[str, Any]]:
    scalar = st.one_of(texts(limits.PARAM_TEXT_MAX), ints(-9, 9), st.floats(), st.booleans())
    return body(
        parameters=st.dictionaries(
            st.one_of(*[st.sampled_from(NAMES)] * 4, texts()), scalar, max_size=3
        ),
        pipeline_version=ints(1, 1),
        kind=st.sampled_from(["api", "manual", "api", "manual", "webhook", "retry", ""]),
        repo=texts(limits.REPO_MAX),
        ref=texts(limits.REF_MAX, 700),
        sha=texts(limits.SHA_MAX),
        pull_request=ints(1, limits.INT32_MAX),
        external=body(
            ("provider", "external_id", "url"),
            provider=st.sampled_from(["github_actions", "gitlab", "jenkins", "travis"]),
            external_id=texts(limits.KEY_MAX),
            url=st.one_of(texts(limits.URL_MAX), texts().map(lambda t: "https://x.test/" + t)),
        ),
    )


def step_report() -> st.SearchStrategy[dict[str, Any]]:
    return body(
        ("status", "step"),
        status=st.sampled_from(STATUSES),
        step=st.one_of(st.just("build"), texts(limits.KEY_MAX)),
        attempt=ints(1, 1),
        runner=texts(limits.KEY_MAX, 700),
        exit_code=ints(-limits.EXIT_CODE_MAX, limits.EXIT_CODE_MAX),
        reason=texts(limits.REASON_MAX),
        outputs=st.dictionaries(texts(limits.KEY_MAX), texts(4096), max_size=3),
        metrics=st.dictionaries(texts(limits.KEY_MAX), st.one_of(st.floats(), ints()), max_size=3),
    )


def log_append() -> st.SearchStrategy[dict[str, Any]]:
    chunk = body(
        ("seq", "text"),
        seq=ints(1, 2),
        text=texts(limits.LOG_CHUNK_MAX),
        step=st.one_of(st.just("build"), texts(limits.KEY_MAX)),
        stream=st.sampled_from(["stdout", "stderr", "system", "tty"]),
    )
    return st.fixed_dictionaries({"chunks": st.lists(chunk, max_size=3)})


def project() -> st.SearchStrategy[dict[str, Any]]:
    return body(
        ("name", "slug"),
        name=texts(limits.NAME_MAX),
        slug=st.one_of(texts(limits.SLUG_MAX), st.from_regex(r"\A[a-z0-9]{1,20}\Z")),
        description=texts(limits.DESCRIPTION_MAX),
    )


def pipeline(project_id: str) -> st.SearchStrategy[dict[str, Any]]:
    globs = st.lists(texts(255), max_size=2)
    trigger = body(("source",), source=st.just("github"), branches=globs, tags=globs)
    step = body(
        ("name", "run"),
        name=st.one_of(st.just("build"), texts(100)),
        run=texts(100),
        timeout_s=ints(1, limits.TIMEOUT_MAX_S),
        retries=ints(0, limits.RETRIES_MAX),
        env=st.dictionaries(texts(100), texts(100), max_size=2),
        needs=st.lists(texts(100), max_size=2),
        labels=st.lists(texts(100), max_size=2),
    )
    return body(
        ("name", "steps"),
        name=texts(limits.NAME_MAX),
        description=texts(limits.DESCRIPTION_MAX),
        tags=st.lists(texts(50), max_size=3),
        steps=st.lists(step, min_size=1, max_size=3),
        parameters=st.lists(
            body(("name",), name=texts(100), type=st.just("string"), default=junk()), max_size=2
        ),
        triggers=st.lists(trigger, max_size=2),
    ).map(lambda b: {"project_id": project_id, **b})


def runner() -> st.SearchStrategy[dict[str, Any]]:
    return body(
        ("name", "labels", "host", "version", "concurrency"),
        name=texts(limits.KEY_MAX),
        labels=st.lists(texts(100), max_size=3),
        host=texts(limits.HOST_MAX),
        version=texts(limits.VERSION_TEXT_MAX),
        concurrency=ints(1, limits.CONCURRENCY_MAX),
    )
