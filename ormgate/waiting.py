"""How long a request may wait for the database, and how many may wait at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Waiting:
    """The bounds on waiting for a database connection, per adapter.

    A request that finds every connection of the adapter in use waits for one
    at most ``timeout`` seconds; at most ``max_waiting`` requests wait at once.
    Past either, the request is answered at once with a 503 (``Unavailable``)
    rather than queued without end.
    """

    timeout: float = 10.0
    max_waiting: int = 256

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError("Waiting.timeout must be positive")
        if self.max_waiting < 0:
            raise ValueError("Waiting.max_waiting must be 0 or more")


DEFAULT_WAITING = Waiting()  # 10 s, 256 waiting: what an adapter uses unless given its own
