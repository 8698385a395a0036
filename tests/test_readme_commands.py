"""The README's command table runs as written: the project's Python, existing modules (#13 item 6)."""
import importlib.util
import re

from tests.conftest import ROOT


def command_rows() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)  # the first cell of each row


def test_every_command_uses_the_projects_python_and_an_existing_module():
    rows = command_rows()
    assert len(rows) == 8
    for command in rows:
        assert command.startswith(".venv/bin/python -m "), command  # the system Python lacks the packages
        module = command.split()[2]
        assert importlib.util.find_spec(f"{module}.__main__") is not None, command
