"""Webhook intake: signed GitHub push deliveries at increasing offered rates, in one run.

    uv run python bench/webhooks.py [--seconds 5] [--warmup 1] [--senders 32] [--loaders 1]
                                    [--rates 250,500,1000,2000,4000,max] [--intake]

Each delivery is tests/fixtures/webhooks/github/push.branch-created.json, a genuine push payload,
with its own `X-GitHub-Delivery` and `after` sha (so bodies differ), signed
(`X-Hub-Signature-256`) over its exact bytes with the source's secret. Senders are open-loop:
each keeps a timetable (the rate split evenly over them) and a latency runs from the SCHEDULED
send time, so queueing shows; `max` is closed-loop, each sender as fast as its answers come.

(a) is `adapters.bootstrap.api_app`: `POST /webhooks/github/{source id}` finds the source,
unseals its secret, verifies, and records a `WebhookReceived` event. (b), the baseline, is a
tiny litestar app with create_app's middleware whose one route only verifies the signature with
`adapters.webhooks.verify.verify_github` and the same secret, then answers 202: the difference
is the cost of recording. Each is ONE uvicorn worker in its own process (the API's own HTTP
protocol, bench/_uvicorn.py, and uvloop when installed); the senders run in separate load
processes with bench/_http_client's keep-alive client. Per rate the variants run in turn (order
alternating), a warm-up then `--seconds` measured. server/load/PG: CPU as % of one core (PG only
when embedded); machine: all cores busy. The intake process manager (deliveries -> run commands)
works after the 202: without `--intake` it is not started. With `--intake`, `flowledger
projector` and `flowledger intake` run beside the server (the project gets a pipeline that every
push starts, so each delivery becomes a run) and after each flowledger rate the intake's lag is
printed: the deliveries not yet processed when the measured window ends, and how long it took to
process them all (it keeps working while the next rows are measured, so it competes with them).

A fresh migrated database; FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL when set, else the
embedded servers in a temp folder. BENCH_PROFILE=/path/out.prof cProfiles the flowledger server
(much slower: only for where the time goes) and prints its top functions.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and bench/commands.py would shadow `commands`.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import msgspec

from bench._http_load import Totals, serve
from bench._proc_cpu import cpu_seconds, machine_jiffies
from bench._webhook_apps import verify_only_app
from bench._webhook_figures import Figures, intake_lag
from bench._webhook_load import BODY, load_main
from bench._webhook_setup import SECRET, register_source, setup

VARIANTS = ("flowledger", "verify-only")
FACTORY = "bench.webhooks:server_app"
P99_MS, SUSTAINED = 50.0, 0.95

# ---- the servers (run inside the uvicorn process) ---------------------------------------------


def server_app():
    """The uvicorn `--factory`: settings come from the FLOWLEDGER_* variables bench sets."""
    from adapters.bootstrap import api_app
    from adapters.platform.settings import load_settings

    settings = load_settings(os.environ, cwd=Path(os.environ["FLOWLEDGER_DATA_DIR"]))
    if os.environ["BENCH_VARIANT"] == "verify-only":
        return verify_only_app(settings)
    if os.environ.get("BENCH_PROFILE"):
        import atexit
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        atexit.register(lambda: profiler.dump_stats(os.environ["BENCH_PROFILE"]))
    assert settings.database_url and settings.nats_url
    return api_app(settings, database_url=settings.database_url, nats_url=settings.nats_url)


# ---- the benchmark (run by hand) ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def role(name: str, env: dict[str, str]):
    """`flowledger NAME` as a process of its own, for the measured window(s)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", name, cwd=ROOT, env=env
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def roles_env(nats_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of the servers and roles a bench starts (one cipher key for them all)."""
    from adapters.platform.secrets import SecretBox

    return {**os.environ, "FLOWLEDGER_NATS_URL": nats_url,
            "FLOWLEDGER_DATA_DIR": str(data_dir), "FLOWLEDGER_LOG_LEVEL": "WARNING",
            "FLOWLEDGER_CIPHER_KEY": SecretBox.generate_key()}  # fmt: skip


def pg_cpu_seconds(pgdata: Path) -> float:
    """CPU time so far of the embedded postmaster and its children (0 when not embedded)."""
    try:
        root, total = int((pgdata / "postmaster.pid").read_text().split()[0]), 0.0
    except (OSError, ValueError, IndexError):
        return 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
            total += cpu_seconds(pid) if root in (pid, ppid) else 0.0
    return total


async def run_rate(t: Figures, pid: int, port: int, source: str, rate: float, args) -> None:
    """The load processes for one rate and variant; CPU sampled over the measured window."""
    start = time.time() + 1.0 + args.warmup  # 1 s for the load processes to start
    shares = [len(range(i, args.senders, args.loaders)) for i in range(args.loaders)]
    argv = [sys.executable, "-m", "bench.webhooks", str(port), source, repr(rate / args.loaders)]
    procs = [
        await asyncio.create_subprocess_exec(
            *argv, str(n), repr(start), repr(args.warmup), repr(args.seconds), cwd=ROOT, stdout=-1
        )
        for n in shares
    ]
    await asyncio.sleep(start - time.time())
    server0, machine0, pg0 = cpu_seconds(pid), machine_jiffies(), pg_cpu_seconds(args.pgdata)
    roles0 = {name: cpu_seconds(p) for name, p in args.roles.items()}
    await asyncio.sleep(args.seconds)
    server1, machine1, t.pg_cpu_s = cpu_seconds(pid), machine_jiffies(), -pg0
    t.pg_cpu_s += pg_cpu_seconds(args.pgdata)
    t.roles_cpu_s = {name: cpu_seconds(p) - roles0[name] for name, p in args.roles.items()}
    outputs = [(await p.communicate())[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a load process failed")
    t.seconds, t.server_cpu_s, t.load_s = args.seconds, server1 - server0, time.time() - start
    t.load_s += 1.0 + args.warmup
    t.machine = [b - a for a, b in zip(machine0, machine1, strict=True)]
    for out in map(msgspec.json.decode, outputs):
        t.ok += out["ok"]
        t.sent += out["sent"]
        t.load_cpu_s += out["cpu_s"]
        t.latencies_ms += out["latencies_ms"]
        t.first_error = t.first_error or out["first_error"]
        for status, n in out["errors"].items():
            t.errors[status] = t.errors.get(status, 0) + n


async def bench(args: argparse.Namespace, env: dict[str, str], server_db: str) -> dict:
    key = await setup(env, server_db)
    args.pgdata = Path(env["FLOWLEDGER_DATA_DIR"]) / "postgres"
    results: dict[str, dict[float, Figures]] = {v: {} for v in VARIANTS}
    async with contextlib.AsyncExitStack() as stack:
        servers = {
            v: await stack.enter_async_context(serve(FACTORY, {**env, "BENCH_VARIANT": v}))
            for v in VARIANTS
        }
        source = await register_source(servers["flowledger"][0], key, args.intake)
        args.roles = {}
        if args.intake:
            for name in ("projector", "intake"):
                args.roles[name] = (await stack.enter_async_context(role(name, env))).pid
        machine0 = machine_jiffies()
        await asyncio.sleep(2.0)
        idle = [b - a for a, b in zip(machine0, machine_jiffies(), strict=True)]
        print(f"machine busy {idle[0] / max(idle[1], 1):.0%} with both servers idle (others' load)")
        for i, rate in enumerate(args.rates):
            for v in VARIANTS[:: -1 if i % 2 else 1]:
                port, pid = servers[v]
                results[v][rate] = Figures()
                await run_rate(results[v][rate], pid, port, source, rate, args)
                if args.intake and v == "flowledger":
                    await intake_lag(env["FLOWLEDGER_DATABASE_URL"], results[v][rate])
    return results


def sustained(rate: float, t: Totals) -> bool:
    enough = t.ok >= SUSTAINED * rate * t.seconds
    return bool(rate) and enough and t.quantile(0.99) < P99_MS and not t.errors


ROW = "{:>9}  {:<12}{:>7}{:>8}{:>8}  {:<4}{:>11}{:>7}{:>6}{:>5}{:>8}  {}"


def report(args: argparse.Namespace, r: dict[str, dict[float, Figures]]) -> None:
    head = ("offered/s", "variant", "202/s", "p50 ms", "p99 ms", "ok?", "CPU ms/202", "server")
    print("\n" + ROW.format(*head, "load", "PG", "machine", "non-202"))
    for rate in args.rates:
        for v in VARIANTS:
            t = r[v][rate]
            busy, total, _ = t.machine
            figures = (t.ok / t.seconds, t.quantile(0.5), t.quantile(0.99))
            cpu = f"{t.server_cpu_s * 1000 / max(t.ok, 1):.2f}"
            print(ROW.format(
                f"{rate:,.0f}" if rate else "max", v, *(f"{x:,.1f}" for x in figures),
                ("yes" if sustained(rate, t) else "no") if rate else "-", cpu,
                f"{t.server_cpu_s / t.seconds:.0%}", f"{t.load_cpu_s / t.load_s:.0%}",
                f"{t.pg_cpu_s / t.seconds:.0%}",
                f"{busy / max(total, 1):.0%}", sum(t.errors.values()),
            ))  # fmt: skip
        a, b = r[VARIANTS[0]][rate], r[VARIANTS[1]][rate]
        cpu = (a.server_cpu_s / max(a.ok, 1)) / max(b.server_cpu_s / max(b.ok, 1), 1e-9)
        p99 = a.quantile(0.99) / max(b.quantile(0.99), 1e-9)
        print(f"{'':11}a/b  202/s {a.ok / max(b.ok, 1):.2f}   p99 x{p99:.1f}   CPU/202 x{cpu:.1f}")
        if a.intake_lag >= 0:
            lag, done = a.intake_lag, a.intake_done_s
            print(f"{'':11}intake: {lag:,} deliveries behind at the window's end, all "
                  f"processed {done:.1f} s later ({a.ok:,} accepted in the window)")  # fmt: skip
            per = {"API": a.server_cpu_s, **a.roles_cpu_s, "PostgreSQL": a.pg_cpu_s}
            shown = ", ".join(f"{k} {s * 1000 / max(a.ok, 1):.2f}" for k, s in per.items())
            print(f"{'':11}CPU ms per accepted delivery over the window: {shown}")
    for v in VARIANTS:
        best = max((rate for rate, t in r[v].items() if sustained(rate, t)), default=0)
        print(f"{v}: max sustainable rate {best:,.0f}/s (highest offered with p99 < {P99_MS:g} ms"
              f" and >= {SUSTAINED:.0%} of it accepted)")  # fmt: skip
        for rate, t in r[v].items():
            if t.errors:
                print(f"  at {rate or 'max'}: non-202 {t.errors}; the first: {t.first_error}")
    a = r[VARIANTS[0]]
    best = max(t.ok / t.seconds for t in a.values())
    met = "met" if best >= 2000 else "NOT met"
    print(f"target >= 2,000 deliveries/s: {met} ({best:,.0f}/s at best; {os.cpu_count()} cores)")
    if 1000.0 in a:
        p99 = a[1000.0].quantile(0.99)
        print(f"target p99 < 50 ms at 1,000/s: {'met' if p99 < P99_MS else 'NOT met'} ({p99:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured, per rate")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--loaders", type=int, default=1, help="load processes sharing senders")
    parser.add_argument("--rates", default="250,500,1000,2000,4000,max")
    parser.add_argument("--intake", action="store_true", help="run the intake and show its lag")
    args = parser.parse_args()
    args.rates = [0.0 if r == "max" else float(r) for r in args.rates.split(",")]

    import shutil
    import tempfile

    from adapters.platform.embedded import embedded_servers
    from adapters.platform.settings import load_settings

    os.environ["BENCH_WEBHOOK_SECRET"] = SECRET  # for the servers and the load processes
    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-bench-"))
    try:
        base = msgspec.structs.replace(load_settings(os.environ, cwd=data_dir), data_dir=data_dir)
        with embedded_servers(base, log=lambda _: None) as urls:
            env = roles_env(urls.nats_url, data_dir)
            print(
                f"{os.cpu_count()} cores; 1 uvicorn worker per variant; {args.senders} senders in "
                f"{args.loaders} load process(es); {args.warmup:g} s warm-up + {args.seconds:g} s "
                f"measured per rate and variant; push delivery of {len(BODY):,} B"
            )
            r = asyncio.run(bench(args, env, urls.database_url))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    report(args, r)
    if os.environ.get("BENCH_PROFILE"):
        import pstats

        print("\nflowledger server, top functions by own time (cProfile):")
        pstats.Stats(os.environ["BENCH_PROFILE"]).sort_stats("tottime").print_stats(25)
    if any(t.errors for v in VARIANTS for t in r[v].values()):
        raise SystemExit(1)


if __name__ == "__main__":
    load_main() if len(sys.argv) > 1 and sys.argv[1].isdigit() else main()
