"""A minimal keep-alive HTTP/1.1 client for the benches' load (Python clients like httpx are too
slow to load a server), and the tally of what it is answered."""

from __future__ import annotations

import asyncio
import time

import msgspec

HOST = "127.0.0.1"


class Answer(msgspec.Struct):
    id: str


class Client:
    """One connection; requests on it are sequential. Reconnects when the server closes it."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n{self.fixed}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            self.writer.write(head.encode("latin-1") + body)
            status_line = await self.reader.readuntil(b"\r\n")
            raw_headers = await self.reader.readuntil(b"\r\n\r\n")
            status = int(status_line.split(b" ", 2)[1])
            length, close = None, False
            for line in raw_headers.split(b"\r\n"):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
                elif name == b"transfer-encoding":
                    raise RuntimeError("chunked responses are not supported by this client")
            if length is None:  # without a length, the body runs to the end of the connection
                payload, close = await self.reader.read(), True
            else:
                payload = await self.reader.readexactly(length)
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, payload

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await self.request("POST", path, body)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


class Tally:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self.sent = 0  # every answered request, warm-up included
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.first_error = ""
        self.latencies_ms: list[float] = []

    def record(self, status: int, body: bytes, began: float) -> None:
        now = time.time()
        self.sent += 1
        if not 200 <= status < 300:  # counted in the warm-up too: there must be none at all
            self.errors[str(status)] = self.errors.get(str(status), 0) + 1
            self.first_error = self.first_error or f"{status} {body[:300].decode(errors='replace')}"
        elif self.start <= now < self.end:
            self.ok += 1
            self.latencies_ms.append(round((now - began) * 1000, 3))
