"""Several ranges of an artifact in one request (RFC 9110 §14.6, `multipart/byteranges`),
against the real API streaming from the real NATS object store; range sets drawn by
hypothesis, each answer parsed with the standard library's MIME parser."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.runner.files_support import listed, succeeded
from tests.integration.runner.stack import Stack, runners

SIZE = 300_000  # over one object store chunk (256 KiB): parts cross the chunk edge
MAKE = f"mkdir -p dist && head -c {SIZE} /dev/urandom > dist/app.bin"
offsets = st.integers(0, SIZE + 1000)
specs = st.one_of(
    st.tuples(offsets, st.none()),
    st.tuples(st.none(), st.integers(1, SIZE + 10)),
    offsets.flatmap(lambda a: st.tuples(st.just(a), st.integers(a, a + 70_000))),
)


def spell(spec: tuple[int | None, int | None]) -> str:
    first, last = spec
    return f"{'' if first is None else first}-{'' if last is None else last}"


def parts_of(answer: httpx.Response) -> list[tuple[str, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {answer.headers['content-type']}\r\n\r\n".encode() + answer.content
    )
    return [(p["Content-Range"], p.get_payload(decode=True)) for p in message.iter_parts()]


async def test_several_ranges_answer_a_multipart_body_of_exactly_those_bytes(
    stack: Stack, label: str
) -> None:
    pipeline = await stack.pipeline(
        [{"name": "build", "run": MAKE, "labels": [label], "artifacts": ["dist/app.bin"]}]
    )
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
    await listed(stack, run_id, 1)
    url = f"{stack.api_url}/api/v1/pipeline-runs/{run_id}/artifacts/build"
    whole = (await stack.http.get(url, headers=stack.admin)).content
    assert len(whole) == SIZE

    answer = await stack.http.get(url, headers={**stack.admin, "Range": "bytes=0-9,20-29"})
    assert answer.status_code == 206, answer.text
    assert answer.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert "content-range" not in answer.headers
    assert parts_of(answer) == [
        (f"bytes 0-9/{SIZE}", whole[0:10]),
        (f"bytes 20-29/{SIZE}", whole[20:30]),
    ]
    nothing = await stack.http.get(
        url, headers={**stack.admin, "Range": f"bytes={SIZE}-,{SIZE + 5}-{SIZE + 9}"}
    )
    assert nothing.status_code == 416 and nothing.headers["content-range"] == f"bytes */{SIZE}"
    too_many = ",".join(f"{i}-{i}" for i in range(33))
    refused = await stack.http.get(url, headers={**stack.admin, "Range": f"bytes={too_many}"})
    assert refused.status_code == 416 and "at most 32" in refused.text

    # The server runs on this loop: hypothesis drives a blocking client from a thread.
    await asyncio.to_thread(_drawn_range_sets, url, stack.admin, whole)


def _drawn_range_sets(url: str, headers: dict[str, str], whole: bytes) -> None:
    with httpx.Client(headers=headers, timeout=30) as http:

        @settings(max_examples=25, deadline=None)
        @given(asked=st.lists(specs, min_size=1, max_size=6))
        def check(asked: list[tuple[int | None, int | None]]) -> None:
            answer = http.get(url, headers={"Range": "bytes=" + ",".join(map(spell, asked))})
            wanted: set[int] = set()
            for first, last in asked:
                if first is None:
                    wanted |= set(range(max(SIZE - (last or 0), 0), SIZE))
                else:
                    stop = SIZE if last is None else min(last + 1, SIZE)
                    wanted |= set(range(first, stop))
            if not wanted:
                assert answer.status_code == 416, answer.text
                return
            assert answer.status_code == 206, answer.text
            assert int(answer.headers["content-length"]) == len(answer.content)
            if answer.headers["content-type"].startswith("multipart/byteranges"):
                parts = parts_of(answer)
                assert len(parts) >= 2
            else:
                parts = [(answer.headers["content-range"], answer.content)]
            got: set[int] = set()
            for content_range, body in parts:
                first_last, total = content_range.removeprefix("bytes ").split("/")
                start, end = (int(x) for x in first_last.split("-"))
                assert int(total) == SIZE and body == whole[start : end + 1]
                got |= set(range(start, end + 1))
            assert got == wanted

        check()
