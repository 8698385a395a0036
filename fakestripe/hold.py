"""Hold the API's answers after request N, so a test can act at an exact point of a client's run.

A test that kills a sync "after 14 requests" cannot rely on timing: a busy
machine lets the sync run on before the kill lands. With a hold set, the
server answers the next `after` /v1 requests as usual and keeps every later
one waiting, unanswered, until the hold is lifted or replaced; the test waits
until `answered == after` and something is held, and knows exactly what the
client has seen. Requests held by a replaced hold are answered then, but
counted by the hold they arrived under (its client is usually dead by then).
"""
from __future__ import annotations

import asyncio


class Hold:
    def __init__(self, after: int):
        self.after = after
        self.admitted = 0  # requests let through so far
        self.answered = 0  # of those, answered
        self.held = 0  # requests waiting now
        self.lifted = asyncio.Event()

    async def admit(self) -> None:
        """Return when this request may be served: at once for the first `after`, else once lifted."""
        if self.admitted >= self.after:
            self.held += 1
            try:
                await self.lifted.wait()
            finally:
                self.held -= 1
        self.admitted += 1

    def done(self) -> None:
        self.answered += 1

    def state(self) -> dict:
        return {"after": self.after, "admitted": self.admitted, "answered": self.answered,
                "held": self.held}
