"""A bench's server process: uvicorn serving `factory()` over the protocol the API serves with.

    python -m bench._uvicorn bench.commands:server_app --port 8000 [--workers 2] [--loop uvloop]

`flowledger api` serves HTTP with `adapters.platform.http_protocol` (a response's head and
body in one send); uvicorn's command line only names its own protocols, so every bench variant,
flowledger's and its baseline alike, is started here: both are measured on the same server.
"""

from __future__ import annotations

import argparse

import uvicorn

from adapters.platform.http_protocol import CoalescingHttpToolsProtocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("factory", help="module:callable returning the ASGI app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--loop", default="auto")
    args = parser.parse_args()
    uvicorn.run(
        args.factory,
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        loop=args.loop,
        http=CoalescingHttpToolsProtocol,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
