"""What the commit notifications tell a reader of the feed: which commits hold its types."""

from __future__ import annotations

import asyncio

from adapters.store.commit_notes import KEPT, CommitNote, RecentCommits, parse


def test_each_form_of_the_notification_is_read() -> None:
    assert parse("5:9:RunRequested,StepStarted") == CommitNote(
        5, 9, frozenset({"RunRequested", "StepStarted"})
    )
    assert parse("5:9") == CommitNote(5, 9, None)
    assert parse("9") == CommitNote(9, 9, None)  # the store before 0017


def test_a_range_is_known_only_while_the_notes_cover_it_without_a_gap() -> None:
    commits = RecentCommits()
    assert commits.holds_any(0, 1, {"A"}) is None  # nothing heard yet
    commits.known_from(10)
    commits.add(parse("11:12:A"))
    commits.add(parse("13:13:B"))
    assert commits.holds_any(10, 13, {"A"}) is True
    assert commits.holds_any(12, 13, {"A"}) is False
    assert commits.holds_any(10, 13, {"C"}) is False
    assert commits.holds_any(9, 13, {"C"}) is None  # before the first note
    assert commits.holds_any(12, 14, {"C"}) is None  # past the last
    commits.add(parse("20:21:C"))  # 14..19 never heard of
    assert commits.holds_any(12, 21, {"Z"}) is None
    commits.add(parse("22:22:D"))
    assert commits.holds_any(21, 22, {"C"}) is False
    commits.add(parse("23:23"))  # types not said
    assert commits.holds_any(21, 23, {"C"}) is None
    commits.forget()
    assert commits.holds_any(23, 23, {"C"}) is None


def test_only_the_oldest_notes_are_let_go() -> None:
    commits = RecentCommits()
    commits.known_from(0)
    for position in range(1, KEPT + 11):
        commits.add(CommitNote(position, position, frozenset({"A"})))
    assert commits.holds_any(10, KEPT + 10, {"B"}) is False
    assert commits.holds_any(9, KEPT + 10, {"B"}) is None


async def test_a_waiter_is_woken_by_a_commit_of_its_types_only() -> None:
    commits = RecentCommits()
    commits.known_from(0)
    waiting = asyncio.create_task(commits.wait_for(0, {"A"}, timeout=5))
    await asyncio.sleep(0)
    commits.add(parse("1:1:B"))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    commits.add(parse("2:2:B,A"))
    await asyncio.wait_for(waiting, 1)
    # Already there: no wait. Nothing for it: the timeout.
    await asyncio.wait_for(commits.wait_for(1, {"A"}, timeout=5), 1)
    await commits.wait_for(2, {"A"}, timeout=0.01)


async def test_a_gap_wakes_every_waiter() -> None:
    commits = RecentCommits()
    commits.known_from(0)
    waiting = asyncio.create_task(commits.wait_for(0, {"A"}, timeout=5))
    await asyncio.sleep(0)
    commits.add(parse("3:3:B"))  # 1..2 not heard: it may hold anything
    await asyncio.wait_for(waiting, 1)
