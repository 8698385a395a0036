"""The lock files pin what the requirement files name (#14 item 4).

`make run` installs requirements.lock, `make test` requirements-dev.lock into
the same .venv, so the two must agree on every package they share."""
import re

from tests.support.servers import ROOT

TEST_TOOLS = {"pytest", "playwright", "localstripe", "jsonschema", "ruff", "mypy"}


def pins(name: str) -> dict[str, str]:
    """package -> version of every `name==version` line (hash lines are indented)."""
    text = (ROOT / name).read_text()
    return {canonical(package): version
            for package, version in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", text, flags=re.M)}


def canonical(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package).lower()


def test_runtime_requirements_hold_no_test_tools():
    assert not TEST_TOOLS & set(pins("requirements.txt"))
    assert TEST_TOOLS <= set(pins("requirements-dev.txt"))
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_each_lock_pins_its_direct_requirements_at_their_versions():
    for source, lock in (("requirements.txt", "requirements.lock"),
                         ("requirements-dev.txt", "requirements-dev.lock")):
        locked = pins(lock)
        for package, version in pins(source).items():
            assert locked.get(package) == version, (lock, package)


def test_every_locked_package_has_a_hash_and_the_dev_lock_agrees_with_the_runtime_one():
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert len(runtime) > 30  # transitive packages too, not just the direct ones
    assert {package: dev.get(package) for package in runtime} == runtime
    for lock in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"\n(?=[A-Za-z])", (ROOT / lock).read_text().split("\n", 2)[2])
        unhashed = [e.split()[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
        assert unhashed == [], lock
