"""`flowledger audit verify`: the chain check from a shell, with an exit status scripts can use."""

from __future__ import annotations

from pathlib import Path

import msgspec

from adapters.platform.services import Services
from tests.integration.audit_integrity.auditing import flowledger, make_history, tamper


async def test_an_intact_store_exits_0(
    scratch_url: str, scratch_services: Services, nats_url: str, tmp_path: Path
) -> None:
    history = await make_history(scratch_services)

    everything = await flowledger(
        "audit", "verify", "--all", database_url=scratch_url, nats_url=nats_url, cwd=tmp_path
    )
    one = await flowledger(
        "audit", "verify", "--stream", str(history.runs[0]),
        database_url=scratch_url, nats_url=nats_url, cwd=tmp_path,
    )  # fmt: skip

    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.splitlines()[0].startswith("checked every stream: ")
    assert "intact" in everything.stdout
    assert one.returncode == 0, one.stderr
    events = len(history.links[history.runs[0]])
    assert one.stdout.startswith(f"checked stream {history.runs[0]}: {events} events in 1 streams")


async def test_a_broken_chain_exits_3_naming_the_link(
    scratch_url: str, scratch_services: Services, nats_url: str, tmp_path: Path
) -> None:
    history = await make_history(scratch_services)
    run = history.runs[0]
    deleted = history.links[run][3]
    following = history.links[run][4]
    await tamper(
        scratch_url,
        ("DELETE FROM events WHERE stream_id = $1 AND version = $2", [str(run), deleted.version]),
    )

    text = await flowledger("audit", "verify", database_url=scratch_url, nats_url=nats_url,
                            cwd=tmp_path)  # fmt: skip
    data = await flowledger("audit", "verify", "--json", database_url=scratch_url,
                            nats_url=nats_url, cwd=tmp_path)  # fmt: skip

    assert text.returncode == 3, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1].startswith("BROKEN: 1 stream(s) with a bad link, 1 hole(s) in the positions")
    assert lines[2].startswith(f"  position {deleted.position}: position_gap in global feed")
    assert lines[3].startswith(
        f"  position {following.position}: version_gap in stream {run} version "
        f"{following.version}: version {deleted.version} missing"
    )
    assert data.returncode == 3
    report = msgspec.json.decode(data.stdout)
    assert report["ok"] is False
    assert report["first_break"]["position"] == deleted.position


async def test_an_unknown_stream_exits_1_and_says_so(
    scratch_url: str, nats_url: str, tmp_path: Path
) -> None:
    result = await flowledger(
        "audit", "verify", "--stream", "nope", database_url=scratch_url, nats_url=nats_url,
        cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1
    assert "no events in stream 'nope'" in result.stderr


async def test_stream_and_all_together_are_refused(
    scratch_url: str, nats_url: str, tmp_path: Path
) -> None:
    result = await flowledger(
        "audit", "verify", "--stream", "x", "--all", database_url=scratch_url, nats_url=nats_url,
        cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
