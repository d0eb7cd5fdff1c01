"""Validation's progress: bytes of the sources' files, advanced chunk by chunk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seedbed.progress import ProgressDisplay
    from seedbed.validation.sources import SeedChunk, SeedSource


class ValidationMeter:
    """A ``validate`` row on a progress display; the ``ChunkMeter`` that ``check_sources`` tells.

    A chunk tells how far into its file it reached (its last line or row);
    the format says how many bytes a position is, and the count is made exact
    when the source is done.
    """

    def __init__(self, display: ProgressDisplay, sources: Mapping[str, SeedSource]) -> None:
        self._parts = {
            part.label: part for seed in sources.values() for part in seed.format.files()
        }
        self._sizes = {label: part.size_in_bytes() for label, part in self._parts.items()}
        self._per_position: dict[str, float | None] = {}
        self._counted: dict[str, float] = {}
        self._bar = display.task("validate", total=float(sum(self._sizes.values())), unit="B")

    def chunk(self, seed: SeedSource, chunk: SeedChunk) -> None:
        """Count ``chunk`` of ``seed``, read after the chunks before it."""
        label = chunk.label or seed.label
        if not len(chunk.lines) or label not in self._parts:
            return
        if label not in self._per_position:
            self._per_position[label] = self._parts[label].bytes_per_position()
        per = self._per_position[label]
        if per is not None:
            reached = float(chunk.lines[-1]) * per
            self._advance_to(label, min(reached, self._sizes[label] * 0.99))

    def source_done(self, seed: SeedSource) -> None:
        for part in seed.format.files():
            if part.label in self._sizes:
                self._advance_to(part.label, float(self._sizes[part.label]))

    def close(self) -> None:
        self._bar.close()

    def _advance_to(self, label: str, reached: float) -> None:
        before = self._counted.get(label, 0.0)
        if reached > before:
            self._counted[label] = reached
            self._bar.update(reached - before)


__all__ = ["ValidationMeter"]
