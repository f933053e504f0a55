"""The per-process cache of opened webhook secrets: per source and box, exactly what the source
accepts now, bounded, failures not kept."""

from __future__ import annotations

from uuid import uuid4

import pytest

from adapters.platform.secrets import SecretUnsealError
from adapters.webhooks.opened_secrets import OpenedSecrets


class CountingBox:
    """Stands in for KeptSecrets: opens `sealed:<x>` as `<box>:<x>`, counting each open."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.opened: list[str] = []

    async def unseal(self, sealed: str) -> str:
        self.opened.append(sealed)
        if not sealed.startswith("sealed:"):
            raise SecretUnsealError("cannot unseal secret")
        return f"{self.name}:{sealed.removeprefix('sealed:')}"


async def test_a_source_s_secrets_are_opened_once_per_box() -> None:
    opened, a, b, source = OpenedSecrets(), CountingBox("a"), CountingBox("b"), uuid4()

    first = [await opened.open(a, source, ["sealed:x"]) for _ in range(3)]  # type: ignore[arg-type]
    other = await opened.open(b, source, ["sealed:x"])  # type: ignore[arg-type]

    assert first == [["a:x"]] * 3 and a.opened == ["sealed:x"]
    assert other == ["b:x"] and b.opened == ["sealed:x"]


async def test_a_rotation_opens_only_the_new_secret_and_forgets_the_one_rotated_out() -> None:
    opened, box, source = OpenedSecrets(), CountingBox("a"), uuid4()
    await opened.open(box, source, ["sealed:old"])  # type: ignore[arg-type]

    during_grace = await opened.open(box, source, ["sealed:new", "sealed:old"])  # type: ignore[arg-type]
    after_grace = await opened.open(box, source, ["sealed:new"])  # type: ignore[arg-type]
    disabled = await opened.open(box, source, [])  # type: ignore[arg-type]
    asked_again = await opened.open(box, source, ["sealed:old"])  # type: ignore[arg-type]

    assert during_grace == ["a:new", "a:old"] and after_grace == ["a:new"] and disabled == []
    assert asked_again == ["a:old"]
    assert box.opened == ["sealed:old", "sealed:new", "sealed:old"]  # nothing kept past its use


async def test_what_cannot_be_opened_is_asked_again_every_time() -> None:
    opened, box, source = OpenedSecrets(), CountingBox("a"), uuid4()

    for _ in range(2):
        with pytest.raises(SecretUnsealError):
            await opened.open(box, source, ["damaged"])  # type: ignore[arg-type]

    assert box.opened == ["damaged", "damaged"] and len(opened) == 0


async def test_the_least_recently_used_source_is_dropped_past_the_bound() -> None:
    opened, box = OpenedSecrets(max_entries=2), CountingBox("a")
    one, two, three = uuid4(), uuid4(), uuid4()
    for source in (one, two, one, three):
        await opened.open(box, source, [f"sealed:{source}"])  # type: ignore[arg-type]

    await opened.open(box, one, [f"sealed:{one}"])  # type: ignore[arg-type]  # kept
    await opened.open(box, two, [f"sealed:{two}"])  # type: ignore[arg-type]  # dropped

    assert len(opened) == 2 and len(box.opened) == 4
    assert "sealed" not in repr(opened)
