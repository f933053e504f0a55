"""The API's HTTP protocol: one loop turn's writes leave in one send, in order, and nothing is
lost on close; over a real socket pair and a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn
from litestar import Litestar, get
from litestar.response import Stream

from adapters.platform.http_protocol import CoalescingHttpToolsProtocol, CoalescingTransport


class _Peerless(asyncio.Protocol):
    """Reads nothing: the tests read the peer socket instead."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None


async def _pair() -> tuple[asyncio.Transport, socket.socket, list[bytes]]:
    """A real socket transport, the peer socket, and what the transport was asked to write."""
    ours, peer = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(_Peerless, ours)
    sent: list[bytes] = []
    real_write = transport.write

    def write(data: bytes) -> None:
        sent.append(bytes(data))
        real_write(data)

    transport.write = write  # type: ignore[method-assign]
    peer.setblocking(False)
    return transport, peer, sent


async def _received(peer: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    got = b""
    while len(got) < size:
        chunk = await loop.sock_recv(peer, size - len(got))
        if not chunk:
            break
        got += chunk
    return got


async def test_writes_of_one_turn_reach_the_socket_as_one_send_in_order() -> None:
    transport, peer, sent = await _pair()
    joined = CoalescingTransport(transport, asyncio.get_running_loop())
    joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    joined.write(bytearray(b"o"))
    joined.write(memoryview(b"k"))
    assert sent == []  # nothing before the turn ends
    assert joined.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    await asyncio.sleep(0)
    assert sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    joined.write(b"next turn")
    await asyncio.sleep(0)
    assert sent[1:] == [b"next turn"]
    expected = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\noknext turn"
    assert await _received(peer, len(expected)) == expected
    joined.close()
    peer.close()


async def test_close_sends_what_is_gathered_and_abort_drops_it() -> None:
    transport, peer, sent = await _pair()
    joined = CoalescingTransport(transport, asyncio.get_running_loop())
    joined.write(b"bye")
    joined.close()
    assert sent == [b"bye"]
    assert await _received(peer, 16) == b"bye"  # then the end of the stream
    await asyncio.sleep(0)  # the scheduled flush finds nothing and a closing transport
    assert sent == [b"bye"]
    peer.close()

    transport, peer, sent = await _pair()
    joined = CoalescingTransport(transport, asyncio.get_running_loop())
    joined.write(b"never")
    joined.abort()
    await asyncio.sleep(0)
    assert sent == []
    assert await _received(peer, 16) == b""
    peer.close()


async def test_an_empty_write_schedules_nothing() -> None:
    transport, peer, sent = await _pair()
    joined = CoalescingTransport(transport, asyncio.get_running_loop())
    joined.write(b"")
    assert joined.get_write_buffer_size() == 0
    await asyncio.sleep(0)
    assert sent == []
    assert joined.get_extra_info("socket") is not None  # the rest is the real transport's
    joined.close()
    peer.close()


@get("/small", sync_to_thread=False)
def small() -> dict[str, str]:
    return {"answer": "ok"}


@get("/streamed", sync_to_thread=False)
def streamed() -> Stream:
    return Stream(iter([b"a" * 70_000, b"b" * 70_000, b"c"]))


@pytest.fixture
async def server() -> object:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(
        Litestar([small, streamed]),
        http=CoalescingHttpToolsProtocol,
        log_config=None,
        lifespan="off",
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve(sockets=[sock]))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    running.should_exit = True
    await task
    sock.close()


async def test_a_real_server_answers_keep_alive_requests_and_streamed_bodies(
    server: str,
) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        for _ in range(3):  # one connection, kept alive
            answer = await client.get("/small")
            assert answer.status_code == 200
            assert answer.json() == {"answer": "ok"}
        answer = await client.get("/streamed")
        assert answer.status_code == 200
        assert answer.content == b"a" * 70_000 + b"b" * 70_000 + b"c"
        assert (await client.get("/missing")).status_code == 404
