"""The colours of each step state, shared by the SVG and the Mermaid class definitions."""

from __future__ import annotations

from typing import NamedTuple

from adapters.visualization.labels import DEFINED, NO_STATE
from domain.run_statuses import StepStatus


class Colours(NamedTuple):
    fill: str
    stroke: str
    text: str
    dashed: bool = False


PALETTE: dict[str, Colours] = {
    StepStatus.PENDING.value: Colours("#f3f4f6", "#9ca3af", "#374151"),
    StepStatus.QUEUED.value: Colours("#e5e7eb", "#6b7280", "#1f2937"),
    StepStatus.RUNNING.value: Colours("#dbeafe", "#2563eb", "#1e3a8a"),
    StepStatus.SUCCEEDED.value: Colours("#dcfce7", "#16a34a", "#14532d"),
    StepStatus.FAILED.value: Colours("#fee2e2", "#dc2626", "#7f1d1d"),
    StepStatus.TIMED_OUT.value: Colours("#ffedd5", "#ea580c", "#7c2d12"),
    StepStatus.CANCELLED.value: Colours("#fef3c7", "#d97706", "#78350f"),
    StepStatus.SKIPPED.value: Colours("#f5f3ff", "#8b5cf6", "#4c1d95", dashed=True),
    StepStatus.WAITING_FOR_APPROVAL.value: Colours("#fdf4ff", "#c026d3", "#701a75"),
    NO_STATE: Colours("#ffffff", "#9ca3af", "#4b5563", dashed=True),
    DEFINED: Colours("#f8fafc", "#475569", "#0f172a"),
}
"""Every state key, in the order the legend lists them."""

EDGE = "#64748b"
TEXT_MUTED = "#475569"
