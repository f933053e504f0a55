"""The load processes of bench/webhooks.py (python -m bench.webhooks PORT SOURCE RATE SENDERS
START WARMUP SECONDS): open-loop senders of signed GitHub push deliveries, each tallying its
answers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sys
import time
import uuid
from pathlib import Path

import msgspec

from bench._http_client import Client, Tally

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "webhooks" / "github" / "push.branch-created.json"
BODY = FIXTURE.read_bytes()
AFTER = b'"after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246"'


async def sender(port: int, path: str, i: int, n: int, rate: float, tally: Tally, warmup: float):
    prefix, _, suffix = BODY.partition(AFTER)
    secret = os.environ["BENCH_WEBHOOK_SECRET"].encode()
    client = Client(port, {})
    interval = n / rate if rate else 0.0
    due = tally.start - warmup + interval * i / n  # the senders' timetables interleave
    try:
        while due < tally.end and time.time() < tally.end:
            if rate:
                await asyncio.sleep(max(0.0, due - time.time()))
            else:
                due = time.time()  # closed loop: latency from the actual send
            delivery = str(uuid.uuid4())
            after = hashlib.sha1(delivery.encode()).hexdigest().encode()
            body = b'%s"after": "%s"%s' % (prefix, after, suffix)
            signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
            client.fixed = (  # per request: requests on one Client are sequential
                f"User-Agent: GitHub-Hookshot/bench\r\nX-GitHub-Event: push\r\n"
                f"X-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: sha256={signature}\r\n"
            )
            status, answer = await client.post(path, body)
            # Only a 202 counts: a 200 (a duplicate) is recorded as an error, "-200".
            tally.record(status if status == 202 or status >= 300 else -status, answer, due)
            due += interval
    finally:
        await client.close()


def load_main() -> None:
    port, source, rate, senders, start, warmup, seconds = sys.argv[1:8]
    n, tally = int(senders), Tally(float(start), float(start) + float(seconds))
    path = f"/webhooks/github/{source}"
    assert AFTER in BODY, "the fixture's `after` sha moved"

    async def run() -> None:
        args = (float(rate), tally, float(warmup))
        await asyncio.gather(*(sender(int(port), path, i, n, *args) for i in range(n)))

    asyncio.run(run())
    keys = ("sent", "ok", "errors", "first_error", "latencies_ms")
    result = {"cpu_s": time.process_time(), **{k: getattr(tally, k) for k in keys}}
    sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")
