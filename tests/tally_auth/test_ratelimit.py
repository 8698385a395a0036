from tally_auth.ratelimit import FIRST_LOCK_SECONDS, FREE_FAILURES, LoginLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_name_is_locked_after_repeated_failures_for_a_growing_delay():
    clock = Clock()
    limiter = LoginLimiter(clock)
    for _ in range(FREE_FAILURES - 1):
        limiter.failed("Alice")
    assert limiter.seconds_locked("alice") == 0
    limiter.failed("alice")
    assert limiter.seconds_locked("ALICE") == FIRST_LOCK_SECONDS
    clock.now += FIRST_LOCK_SECONDS
    assert limiter.seconds_locked("alice") == 0
    limiter.failed("alice")
    assert limiter.seconds_locked("alice") == 2 * FIRST_LOCK_SECONDS
    assert limiter.seconds_locked("bob") == 0


def test_success_clears_the_record():
    limiter = LoginLimiter(Clock())
    for _ in range(FREE_FAILURES):
        limiter.failed("carol")
    limiter.succeeded("carol")
    assert limiter.seconds_locked("carol") == 0
