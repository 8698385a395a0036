"""Client-side pacing for Stripe: a request rate limit and adaptive concurrency.

Stripe allows about 100 requests/s in live mode and 25/s in test mode per
account, and about 25/s per endpoint. Staying under that ourselves costs
nothing; bumping into it costs a 429 and a back-off. Concurrency adapts like
TCP (AIMD): one more slot after a run of clean answers, half the slots after
a 429, so a busy account (other integrations also spend the budget) slows us
down instead of failing us.
"""
from __future__ import annotations

import collections
import heapq
import itertools
import threading
import time

WAKE_FALLBACK_SECONDS = 1.0
ACCOUNT_BURST = 2  # requests the account's limiter lets through at once
# And an endpoint's: with room for one only, a token that comes while the
# endpoint's next request is still queued for the account's is lost, and the
# endpoint falls short of its limit; the send window below still holds any
# one second to the limit.
ENDPOINT_BURST = 2
# The server counts a request when it arrives, a little after we send it, and
# not always equally late: an endpoint's sends are kept within its limit over
# slightly more than a second, so no second the server counts holds one more.
SEND_WINDOW_SECONDS = 1.01


class RateLimiter:
    """Token bucket: at most `rate` acquisitions per second, bursts of `burst`.

    Waiters are served by priority (higher first, then in arrival order): the
    sync gives the object types with the most pages left the next requests,
    so the big types finish together instead of one trailing at the end,
    where only its own endpoint's limit would pace it.
    """

    def __init__(self, rate: float, burst: float | None = None):
        self.rate = self.max_rate = float(rate)
        # Small bursts: at most rate + burst requests fall in any one second.
        self.burst = float(burst if burst is not None else max(1.0, rate / 25))
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        # Waiters as (-priority, arrival, wake-up): only the head of the queue
        # takes tokens, and wakes the next head when it leaves (waking every
        # waiter instead costs a GIL round per thread per token).
        self._queue: list[tuple[float, int, threading.Event]] = []
        self._arrivals = itertools.count()
        self._slowed_at = float("-inf")

    def acquire(self, priority: float = 0.0) -> None:
        entry = (-priority, next(self._arrivals), threading.Event())
        queued = left = False
        try:
            with self._lock:
                heapq.heappush(self._queue, entry)
                queued = True
            while True:
                with self._lock:
                    head = self._queue[0] is entry
                    if head:
                        now = time.monotonic()
                        self._tokens = min(self.burst,
                                           self._tokens + (now - self._stamp) * self.rate)
                        self._stamp = now
                        if self._tokens >= 1 - 1e-9:  # float dust must not spin forever
                            self._tokens = max(0.0, self._tokens - 1)
                            self._leave(entry)
                            left = True
                            return
                        wait = (1 - self._tokens) / self.rate
                if head:  # briefly: a slow_down or speed_up may change the wait
                    time.sleep(min(wait, 0.05))
                else:  # the head wakes us (the timeout is only a safety net)
                    entry[2].wait(WAKE_FALLBACK_SECONDS)
                    entry[2].clear()
        finally:
            if queued and not left:  # interrupted while waiting: leave the queue
                with self._lock:
                    self._leave(entry)

    def _leave(self, entry) -> None:
        """Take `entry` off the queue (lock held) and wake whoever is now first."""
        if self._queue[0] is entry:
            heapq.heappop(self._queue)
        else:
            self._queue.remove(entry)
            heapq.heapify(self._queue)
        if self._queue:
            self._queue[0][2].set()

    def slow_down(self) -> None:
        """A 429 said the server's budget is smaller than ours (others spend it too).

        Once per second at most: the requests in flight when the budget ran
        out all come back 429, and that is one signal, not dozens.
        """
        with self._lock:
            now = time.monotonic()
            if now - self._slowed_at >= 1.0:
                self.rate = max(1.0, self.rate * 0.7)
                self._slowed_at = now

    def speed_up(self) -> None:
        with self._lock:
            self.rate = min(self.max_rate, self.rate + self.max_rate / 200)


class EndpointLimiters:
    """One bucket per endpoint (Stripe's per-endpoint limit) behind the account bucket.

    The endpoint's token comes first, so that only requests their endpoint
    would let through queue for the account's (whose priority order would
    otherwise hand the account's budget to requests their endpoint then
    holds back). But a low-priority request may wait long in that queue
    holding its endpoint token, and several of them, let through together,
    would overshoot the endpoint's limit: a last look at the endpoint's sends
    of the past second holds such a burst back.
    """

    def __init__(self, total_rate: float, endpoint_rate: float):
        self.total = RateLimiter(total_rate, burst=ACCOUNT_BURST)
        self.endpoint_rate = endpoint_rate
        self._endpoints: dict[str, tuple[RateLimiter, SendWindow]] = {}
        self._lock = threading.Lock()

    def acquire(self, endpoint: str, priority: float = 0.0) -> None:
        bucket, sends = self._limits(endpoint)
        bucket.acquire()
        self.total.acquire(priority)
        sends.admit(bucket.rate)

    def slow_down(self, endpoint: str) -> None:
        self._limits(endpoint)[0].slow_down()
        self.total.slow_down()

    def speed_up(self, endpoint: str) -> None:
        self._limits(endpoint)[0].speed_up()
        self.total.speed_up()

    def _limits(self, endpoint: str) -> tuple[RateLimiter, "SendWindow"]:
        with self._lock:
            if endpoint not in self._endpoints:
                self._endpoints[endpoint] = (RateLimiter(self.endpoint_rate, burst=ENDPOINT_BURST), SendWindow())
            return self._endpoints[endpoint]


class SendWindow:
    """The requests actually sent to one endpoint in the last SEND_WINDOW_SECONDS."""

    def __init__(self):
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def admit(self, rate: float) -> None:
        """Wait until fewer than `rate` were sent in the window, then count one."""
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and self._sent[0] <= now - SEND_WINDOW_SECONDS:
                    self._sent.popleft()
                if len(self._sent) < max(1, int(rate)):
                    self._sent.append(now)
                    return
                wait = self._sent[0] + SEND_WINDOW_SECONDS - now
            time.sleep(wait)


class AdaptiveConcurrency:
    """A semaphore whose size grows on success and halves on a rate limit."""

    def __init__(self, maximum: int, start: int | None = None, grow_after: int = 20):
        self.maximum = maximum
        self.limit = start or maximum
        self.grow_after = grow_after
        self._in_flight = 0
        self._clean = 0
        self._halved_at = float("-inf")
        self._cond = threading.Condition()

    def __enter__(self):
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
        return self

    def __exit__(self, *exc):
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def succeeded(self) -> None:
        with self._cond:
            self._clean += 1
            if self._clean >= self.grow_after and self.limit < self.maximum:
                self.limit += 1
                self._clean = 0
                self._cond.notify_all()

    def rate_limited(self) -> None:
        """Halve the slots, once per second at most (one burst of 429s is one signal)."""
        with self._cond:
            now = time.monotonic()
            if now - self._halved_at >= 1.0:
                self.limit = max(1, self.limit // 2)
                self._halved_at = now
            self._clean = 0
