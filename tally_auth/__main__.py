"""`python -m tally_auth hash-password [--user NAME] [--role admin|viewer]`

Prompts for a password twice (or reads one line from stdin when it is not a
terminal) and prints a section to paste into .streamlit/secrets.toml.
"""
from __future__ import annotations

import argparse
import getpass
import re
import sys

from tally_auth.passwords import hash_password
from tally_auth.user import ROLES


def _read_password() -> str | None:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        print("The passwords differ; nothing was written.", file=sys.stderr)
        return None
    return first


def hash_password_command(args) -> int:
    password = _read_password()
    if password is None:
        return 1
    if len(password) < 8:
        print("Use a password of at least 8 characters.", file=sys.stderr)
        return 1
    print(f'[tally_auth.users.{args.user}]\npassword_hash = "{hash_password(password)}"\n'
          f'role = "{args.role}"')
    return 0


def _user_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise argparse.ArgumentTypeError("use letters, digits, - and _ only")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tally_auth")
    commands = parser.add_subparsers(dest="command", required=True)
    hp = commands.add_parser("hash-password", help="hash a password for secrets.toml")
    hp.add_argument("--user", type=_user_name, default="admin", help="user name (default: admin)")
    hp.add_argument("--role", choices=ROLES, default="admin")
    hp.set_defaults(run=hash_password_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
