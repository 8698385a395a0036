from tally_auth import tokens


def test_a_token_names_its_user():
    assert tokens.verified_user_name(tokens.issue("alice")) == "alice"


def test_edited_forged_or_expired_tokens_name_nobody():
    token = tokens.issue("viewer")
    payload, signature = token.rsplit(".", 1)
    other_payload = tokens.issue("admin").rsplit(".", 1)[0]
    assert tokens.verified_user_name(f"{other_payload}.{signature}") is None
    assert tokens.verified_user_name(f"{payload}.{'0' * 64}") is None
    assert tokens.verified_user_name("admin") is None
    assert tokens.verified_user_name({"user": "admin"}) is None
    old = tokens.issue("alice", now=1_000_000)
    assert tokens.verified_user_name(old, now=1_000_000 + tokens.MAX_AGE_SECONDS + 1) is None
