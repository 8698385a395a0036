"""The README's command table and the CLIs agree, in the style of sqlite-utils' test_docs.py:
every command and every flag a CLI's --help lists has its row, and every row and flag in the
table exists (#13 item 6, #14 item 5). Rows run as written: the project's Python."""
import re
import subprocess
import sys

import pytest

from tests.support.servers import ROOT

CLIS = ("etl", "metrics", "tally_auth", "tally_notify", "fakestripe")  # every `python -m` entry point a user runs
PYTHON = ".venv/bin/python -m "


def command_rows() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)  # the first cell of each row


def help_text(*command: str) -> str:
    done = subprocess.run([sys.executable, "-m", *command, "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def flags(text: str) -> set[str]:
    """The long options of a --help text (its option lines) or of a README row, --help aside."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text)) - {"--help"}


def option_flags(help_output: str) -> set[str]:
    return flags("\n".join(re.findall(r"^\s+(?:-\w, )?--[a-z][a-z-]*", help_output, flags=re.M)))


@pytest.fixture(scope="module")
def commands() -> dict[str, set[str]]:
    """'etl sync' -> its flags, for every command of every CLI (a CLI without subcommands is one)."""
    found = {}
    for cli in CLIS:
        top = help_text(cli)
        subcommands = re.search(r"^\s+\{([\w,-]+)\}", top, flags=re.M)
        for name in subcommands.group(1).split(",") if subcommands else [None]:
            command = f"{cli} {name}" if name else cli
            found[command] = option_flags(help_text(*command.split()))
    return found


def row_command(row: str, commands) -> str:
    """The command a row documents: its module and, if that CLI has them, its subcommand."""
    words = row.removeprefix(PYTHON).split()
    return " ".join(words[:2]) if " ".join(words[:2]) in commands else words[0]


def test_every_command_uses_the_projects_python_and_an_existing_module():
    for command in command_rows():
        assert command.startswith(PYTHON), command  # the system Python lacks the packages


def test_every_command_has_one_row(commands):
    documented = [row_command(row, commands) for row in command_rows()]
    assert sorted(documented) == sorted(commands)


@pytest.mark.parametrize("row", command_rows())
def test_every_row_is_a_command_with_only_its_own_flags(commands, row):
    command = row_command(row, commands)
    assert command in commands, row
    assert flags(row) <= commands[command], row


def test_every_flag_is_in_its_row(commands):
    rows = {row_command(row, commands): flags(row) for row in command_rows()}
    missing = {command: sorted(options - rows.get(command, set())) for command, options in commands.items()}
    assert {command: options for command, options in missing.items() if options} == {}
