"""A webhook receiver for bench/outbound.py, in a process of its own: minimal HTTP/1.1 with
keep-alive, answering 204 (or 503 on every other request to a path under /half/).

    python bench/_receiver.py   # prints its port; GET /count answers how many were accepted;
                                # GET /report answers every request as JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import time

records: list[tuple[str, str, int, float, int]] = []
counts: dict[str, int] = {}
accepted = 0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global accepted
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "GET":
                if path == "/count":
                    payload = str(accepted).encode()
                else:
                    payload = "\n".join(json.dumps(r) for r in records).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload))
                writer.write(payload)
                await writer.drain()
                continue
            n = counts[path] = counts.get(path, 0) + 1
            status = 503 if path.startswith("/half/") and n % 2 == 0 else 204
            position = json.loads(body)["data"]["position"]
            records.append((path, headers.get("webhook-id", ""), position, time.time(), status))
            if status == 204:
                accepted += 1
            reason = b"No Content" if status == 204 else b"Service Unavailable"
            writer.write(b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n" % (status, reason))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
