"""English counts for the demo's messages."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str) -> str:
    """``"1 update"``, ``"2 updates"``: the count and the noun, with ``s`` unless it is 1."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
