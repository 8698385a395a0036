import subprocess
import sys

from tally_auth.passwords import hash_password, verify_password
from tests.conftest import ROOT


def test_a_hash_verifies_its_password_only():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)


def test_hashes_are_salted():
    assert hash_password("same password") != hash_password("same password")


def test_malformed_hashes_never_verify():
    for stored in ["", "plain", "scrypt$1$2$3", "bcrypt$a$b$c$d$e", "scrypt$x$8$1$AA==$AA=="]:
        assert not verify_password("anything", stored)


def test_the_cli_prints_a_section_for_secrets_toml():
    out = subprocess.run([sys.executable, "-m", "tally_auth", "hash-password", "--user", "bob",
                          "--role", "viewer"], input="a long password\n", capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[0] == "[tally_auth.users.bob]" and lines[2] == 'role = "viewer"'
    stored = lines[1].split('"')[1]
    assert verify_password("a long password", stored)
    assert "a long password" not in out


def test_the_cli_refuses_a_short_password():
    run = subprocess.run([sys.executable, "-m", "tally_auth", "hash-password"], input="short\n",
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1 and "at least 8" in run.stderr and run.stdout == ""
