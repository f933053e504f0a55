"""Instructions per accepted webhook delivery in the API process, under callgrind: the
flowledger server of bench/webhooks.py taking a fixed number of signed GitHub pushes.

    uv run python bench/callgrind_webhooks.py [--deliveries 1500] [--warmup 300] [--senders 8]
        [--out /tmp/callgrind.webhooks.out] [--cpu]

As bench/callgrind_commands.py: the server runs under `valgrind --tool=callgrind
--instr-atstart=no`, collection is switched on after the warm-up and off after `--deliveries`
202s, and the instructions of an idle stretch as long are taken off (timers, pings). No intake
or projector runs: this is the accept path alone (source, secret, signature, record, answer).
callgrind_annotate on --out says where they go. With `--cpu`, no valgrind: the server's CPU
time per delivery from /proc instead (user + system, the socket's system calls included).
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench._callgrind import callgrind_server, counted, healthy
from bench._http_client import Client
from bench._http_load import free_port, server_command
from bench._proc_cpu import cpu_seconds
from bench._webhook_load import AFTER, BODY
from bench._webhook_setup import SECRET, register_source, setup
from bench.webhooks import FACTORY, roles_env


async def deliveries(port: int, source: str, count: int, senders: int) -> int:
    """`count` signed pushes over `senders` connections, closed loop; the 202s."""
    prefix, _, suffix = BODY.partition(AFTER)
    left, accepted = [count], [0]

    async def one() -> None:
        client = Client(port, {})
        while left[0] > 0:
            left[0] -= 1
            delivery = str(uuid.uuid4())
            after = hashlib.sha1(delivery.encode()).hexdigest().encode()
            body = b'%s"after": "%s"%s' % (prefix, after, suffix)
            signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            client.fixed = (
                f"User-Agent: GitHub-Hookshot/bench\r\nX-GitHub-Event: push\r\n"
                f"X-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: sha256={signature}\r\n"
            )
            status, answer = await client.post(f"/webhooks/github/{source}", body)
            assert status == 202, (status, answer)
            accepted[0] += 1
        await client.close()

    await asyncio.gather(*(one() for _ in range(senders)))
    return accepted[0]


async def main_async(args: argparse.Namespace, env: dict[str, str], server_db: str) -> None:
    key = await setup(env, server_db)
    env = {**env, "BENCH_VARIANT": "flowledger", "BENCH_WEBHOOK_SECRET": SECRET}
    if args.cpu:
        await cpu_per_delivery(args, env, key)
        return
    async with callgrind_server(FACTORY, env, args.out) as (port, pid):
        source = await register_source(port, key, False)
        await deliveries(port, source, args.warmup, args.senders)

        async def work() -> int:
            return await deliveries(port, source, args.deliveries, args.senders)

        sent, seconds, net, busy = await counted(pid, args.out, work, args.idle)
    print(
        f"{sent} deliveries in {seconds:.0f} s; instructions per delivery net of idle: "
        f"{sum(net.values()) / sent:,.0f} (event loop's thread {net['01'] / sent:,.0f}); "
        f"gross {sum(busy.values()) / sent:,.0f}"
    )


async def cpu_per_delivery(args: argparse.Namespace, env: dict[str, str], key: str) -> None:
    """The same deliveries against the server run plainly: its CPU time per delivery."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(*server_command(FACTORY, port), cwd=ROOT, env=env)
    try:
        await healthy(port)
        source = await register_source(port, key, False)
        await deliveries(port, source, args.warmup, args.senders)
        started, cpu = time.monotonic(), cpu_seconds(proc.pid)
        sent = await deliveries(port, source, args.deliveries, args.senders)
        cpu, seconds = cpu_seconds(proc.pid) - cpu, time.monotonic() - started
    finally:
        proc.send_signal(2)
        await proc.wait()
    print(
        f"{sent} deliveries in {seconds:.1f} s ({sent / seconds:,.0f}/s); "
        f"API CPU per delivery {cpu / sent * 1000:.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--out", default="/tmp/callgrind.webhooks.out")
    parser.add_argument("--cpu", action="store_true", help="CPU time from /proc, no valgrind")
    args = parser.parse_args()

    import shutil
    import tempfile

    import msgspec

    from adapters.platform.embedded import embedded_servers
    from adapters.platform.settings import load_settings

    os.environ["BENCH_WEBHOOK_SECRET"] = SECRET
    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-bench-"))
    try:
        # The servers and environment of bench/webhooks.py.
        base = msgspec.structs.replace(load_settings(os.environ, cwd=data_dir), data_dir=data_dir)
        with embedded_servers(base, log=lambda _: None) as urls:
            env = roles_env(urls.nats_url, data_dir)
            asyncio.run(main_async(args, env, urls.database_url))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
