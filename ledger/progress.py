"""Progress of long work, reported to whoever called it.

Library code (the importers, the reports) never prints: it takes an optional
:class:`Progress` from its caller and tells it which phase it is in. A face decides how to
show that (the CLI draws a Rich bar on a terminal; a web request could log it).
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives the phases of a long operation, in order."""

    def start(self, total: int) -> None:
        """The work has ``total`` steps."""

    def step(self, description: str) -> None:
        """A new phase begins (e.g. "reading pipeline.xlsx")."""

    def advance(self) -> None:
        """One step is done."""

    def close(self) -> None:
        """The work ended (successfully or not)."""


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def start(self, total: int) -> None:
        pass

    def step(self, description: str) -> None:
        pass

    def advance(self) -> None:
        pass

    def close(self) -> None:
        pass
