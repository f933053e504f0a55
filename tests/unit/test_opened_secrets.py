"""The per-process cache of opened webhook secrets: per box, bounded, failures not kept."""

from __future__ import annotations

import pytest

from adapters.platform.secrets import SecretUnsealError
from adapters.webhooks.opened_secrets import OpenedSecrets


class CountingBox:
    """Stands in for KeptSecrets: opens `sealed:<x>` as `<x>`, counting each open."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.opened = 0

    async def unseal(self, sealed: str) -> str:
        self.opened += 1
        if not sealed.startswith("sealed:"):
            raise SecretUnsealError("cannot unseal secret")
        return f"{self.name}:{sealed.removeprefix('sealed:')}"


async def test_a_sealed_secret_is_opened_once_per_box() -> None:
    opened, a, b = OpenedSecrets(), CountingBox("a"), CountingBox("b")

    first = [await opened.open(a, "sealed:x") for _ in range(3)]  # type: ignore[arg-type]
    other = await opened.open(b, "sealed:x")  # type: ignore[arg-type]

    assert first == ["a:x"] * 3 and a.opened == 1
    assert other == "b:x" and b.opened == 1


async def test_what_cannot_be_opened_is_asked_again_every_time() -> None:
    opened, box = OpenedSecrets(), CountingBox("a")

    for _ in range(2):
        with pytest.raises(SecretUnsealError):
            await opened.open(box, "damaged")  # type: ignore[arg-type]

    assert box.opened == 2 and len(opened) == 0


async def test_the_least_recently_used_is_dropped_past_the_bound() -> None:
    opened, box = OpenedSecrets(max_entries=2), CountingBox("a")
    for sealed in ("sealed:1", "sealed:2", "sealed:1", "sealed:3"):
        await opened.open(box, sealed)  # type: ignore[arg-type]

    await opened.open(box, "sealed:1")  # kept: used after 2
    await opened.open(box, "sealed:2")  # dropped: opened again

    assert len(opened) == 2 and box.opened == 4
    assert "sealed" not in repr(opened)
