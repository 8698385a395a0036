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


def test_parallel_guesses_get_five_password_checks_and_a_short_lock(monkeypatch):
    """15 sessions guess at once: the failure slot is taken before the password is checked."""
    import threading

    from tally_auth import config, login
    from tally_auth.passwords import hash_password
    from tally_auth.ratelimit import CLIENT_FREE_FAILURES
    limiter = LoginLimiter(Clock())
    monkeypatch.setattr(login, "LIMITER", limiter)
    monkeypatch.setattr(config, "local_users", lambda: {"root": {
        "password_hash": hash_password("right"), "role": "admin", "email": None}})
    sessions = 15
    start, answers = threading.Barrier(sessions), []

    def guess(n):
        start.wait()
        answers.append(login.check_password("root", f"guess-{n}", f"10.0.0.{n}"))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count("Wrong user name or password.") == FREE_FAILURES
    assert answers.count("Too many failed sign-ins for root. Try again in 30 seconds.") == \
        sessions - FREE_FAILURES
    assert limiter.seconds_locked("root") == FIRST_LOCK_SECONDS  # not an hour
    assert CLIENT_FREE_FAILURES > FREE_FAILURES


def test_one_client_cannot_lock_out_every_name():
    from tally_auth.ratelimit import CLIENT_FREE_FAILURES
    limiter = LoginLimiter(Clock())
    names = [f"user{n}" for n in range(CLIENT_FREE_FAILURES)]
    for name in names:  # one wrong guess per name, from one address
        assert limiter.reserve(name, "203.0.113.9").wait == 0
    refused = limiter.reserve("admin", "203.0.113.9")
    assert refused.by_client and refused.wait == FIRST_LOCK_SECONDS
    assert limiter.seconds_locked("admin") == 0  # the name itself is not locked...
    assert limiter.reserve("admin", "198.51.100.4").wait == 0  # ...others may still sign in


def test_a_right_password_takes_back_its_reserved_failure():
    limiter = LoginLimiter(Clock())
    for _ in range(FREE_FAILURES - 1):
        limiter.reserve("dora", "c")
    assert limiter.reserve("dora", "c").wait == 0  # the fifth try: reserved, lock pending
    limiter.succeeded("dora", "c")  # ...and it was right
    assert limiter.seconds_locked("dora") == 0
