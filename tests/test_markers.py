"""`make test-fast` (`-m "not browser and not subprocess"`) leaves out exactly the
browser tests and the tests that start processes (#14 item 5)."""
import subprocess
import sys

from tests.support.servers import ROOT


def collected(marks: str) -> set[str]:
    # pytest.ini's -q already makes --collect-only print one node id a line.
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider",
                          "-m", marks], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return {line.split("::")[0] for line in out.stdout.splitlines() if "::" in line}


def test_fast_selection_leaves_out_browser_and_process_tests():
    fast = collected("not browser and not subprocess")
    assert not {module for module in fast if module.startswith("tests/browser/")}
    for starts_processes in ("tests/etl/test_sync_resume.py", "tests/etl/test_cli_sync.py",
                             "tests/metrics/test_cli.py", "tests/fakestripe/test_controls.py",
                             "tests/test_localstripe_fixture.py", "tests/test_markers.py",
                             "tests/etl/test_not_stripe.py"):
        assert starts_processes not in fast
    assert {"tests/test_docs_metrics.py", "tests/metrics/test_mrr_rules.py",
            "tests/pages/test_page_modules.py"} <= fast


def test_every_browser_test_is_marked():
    browser = collected("browser")
    on_disk = {f"tests/browser/{path.name}" for path in (ROOT / "tests" / "browser").glob("test_*.py")}
    assert browser == on_disk
