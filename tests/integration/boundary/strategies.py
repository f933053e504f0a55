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


def ints() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(INT_EDGES), st.integers(-(2**70), 2**70), st.integers(-3, 300))


def texts(*limits_at: int) -> st.SearchStrategy[str]:
    """Short text of any characters, odd characters, and texts around each length in `limits_at`."""
    around = [
        st.tuples(st.integers(max(n - 2, 0), n + 2), st.sampled_from(WIDE)).map(
            lambda pair: pair[1] * pair[0]
        )
        for n in limits_at
    ]
    return st.one_of(
        st.text(max_size=12),
        st.lists(st.sampled_from(ODD) | st.characters(), min_size=1, max_size=30).map("".join),
        st.just(""),
        *around,
    )


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
    """Mostly `strategy`, sometimes a value of the wrong type."""
    return st.one_of(strategy, strategy, strategy, junk())


def body(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with any subset of `fields` (missing ones omitted), sometimes an unknown one."""
    chosen = st.fixed_dictionaries({}, optional={name: maybe(s) for name, s in fields.items()})
    return chosen.flatmap(lambda b: st.sampled_from([b, {**b, "unknown_field": 1}]))


NAMES = ["TARGET", "N", "X"]
"""The fuzzed pipeline's parameters: a string, an integer and a number."""
STATUSES = ["queued", "running", "succeeded", "failed", "timed_out", "cancelled"]


def run_request() -> st.SearchStrategy[dict[str, Any]]:
    scalar = st.one_of(texts(limits.PARAM_TEXT_MAX), ints(), st.floats(), st.booleans())
    return body(
        parameters=st.dictionaries(st.sampled_from(NAMES) | texts(), scalar, max_size=3),
        pipeline_version=ints(),
        kind=st.sampled_from(["api", "manual", "webhook", "retry", ""]),
        repo=texts(limits.REPO_MAX),
        ref=texts(limits.REF_MAX, 700),
        sha=texts(limits.SHA_MAX),
        pull_request=ints(),
        external=body(
            provider=st.sampled_from(["github_actions", "gitlab", "jenkins", "travis"]),
            external_id=texts(limits.KEY_MAX),
            url=st.one_of(texts(limits.URL_MAX), texts().map(lambda t: "https://x.test/" + t)),
        ),
    )


def step_report() -> st.SearchStrategy[dict[str, Any]]:
    return body(
        status=st.sampled_from(STATUSES),
        step=st.one_of(st.just("build"), texts(limits.KEY_MAX)),
        attempt=ints(),
        runner=texts(limits.KEY_MAX, 700),
        exit_code=ints(),
        reason=texts(limits.REASON_MAX),
        outputs=st.dictionaries(texts(limits.KEY_MAX), texts(4096), max_size=3),
        metrics=st.dictionaries(texts(limits.KEY_MAX), st.one_of(st.floats(), ints()), max_size=3),
    ).map(lambda b: {"status": "running", **b})


def log_append() -> st.SearchStrategy[dict[str, Any]]:
    chunk = body(
        seq=ints(),
        text=texts(limits.LOG_CHUNK_MAX),
        step=st.one_of(st.just("build"), texts(limits.KEY_MAX)),
        stream=st.sampled_from(["stdout", "stderr", "system", "tty"]),
    )
    return st.fixed_dictionaries({"chunks": st.lists(chunk, max_size=3)})


def project() -> st.SearchStrategy[dict[str, Any]]:
    return body(
        name=texts(limits.NAME_MAX),
        slug=st.one_of(texts(limits.SLUG_MAX), st.from_regex(r"\A[a-z0-9]{1,20}\Z")),
        description=texts(limits.DESCRIPTION_MAX),
    )


def pipeline(project_id: str) -> st.SearchStrategy[dict[str, Any]]:
    step = body(
        name=st.one_of(st.just("build"), texts(100)),
        run=texts(100),
        timeout_s=ints(),
        retries=ints(),
        env=st.dictionaries(texts(100), texts(100), max_size=2),
        needs=st.lists(texts(100), max_size=2),
        labels=st.lists(texts(100), max_size=2),
    )
    return body(
        name=texts(limits.NAME_MAX),
        description=texts(limits.DESCRIPTION_MAX),
        tags=st.lists(texts(50), max_size=3),
        steps=st.lists(step, max_size=3),
        parameters=st.lists(
            body(name=texts(100), type=st.just("string"), default=junk()), max_size=2
        ),
        triggers=st.lists(
            body(source=st.just("github"), branches=st.lists(texts(255), max_size=2)), max_size=2
        ),
    ).map(lambda b: {"project_id": project_id, **b})


def runner() -> st.SearchStrategy[dict[str, Any]]:
    return body(
        name=texts(limits.KEY_MAX),
        labels=st.lists(texts(100), max_size=3),
        host=texts(limits.HOST_MAX),
        version=texts(limits.VERSION_TEXT_MAX),
        concurrency=ints(),
    )
