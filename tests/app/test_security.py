"""Password hashing and API tokens."""

import hmac

import pytest

from app import security


def test_hash_password_verifies_only_the_same_password():
    hashed = security.hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert security.verify_password(hashed, "correct horse")
    assert not security.verify_password(hashed, "wrong horse!")


def test_hash_password_refuses_short_passwords():
    with pytest.raises(security.WeakPassword, match="at least 8"):
        security.hash_password("short")


def test_verify_password_false_for_missing_or_corrupt_hash():
    assert not security.verify_password(None, "anything long")
    assert not security.verify_password("not-a-hash", "anything long")


def token_matches(token: str, token_hash: str) -> bool:
    """A presented token against a stored hash, as app.accounts.user_for_token looks it up."""
    return hmac.compare_digest(security.hash_token(token), token_hash)


def test_new_token_is_prefixed_random_and_hashes_stably():
    first, second = security.new_token(), security.new_token()
    assert first != second
    assert first.startswith("raim_") and len(first) > 40
    assert security.hash_token(first) == security.hash_token(first)
    assert len(security.hash_token(first)) == 64
    assert token_matches(first, security.hash_token(first))
    assert not token_matches(second, security.hash_token(first))


def test_looks_like_token_rejects_other_strings():
    assert security.looks_like_token(security.new_token())
    assert not security.looks_like_token("Bearer abc")
    assert not security.looks_like_token("raim_")
