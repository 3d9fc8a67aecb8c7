"""Secrets handling: argon2 password hashes, API tokens stored only as their sha256, redaction."""

from __future__ import annotations

import hashlib
import re
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "raim_"
TOKEN_BYTES = 32
# How much of a token is kept in clear to let people tell their tokens apart ("raim_AbC1").
DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + 4
MIN_PASSWORD_LENGTH = 8
# Anything shaped like a token: the prefix and at least 16 url-safe characters (a real one has
# 43). Shorter runs, such as a display prefix "raim_AbC1" or the cookie name, are left alone.
TOKEN_SHAPE = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{16,}")
REDACTED = "[redacted]"

_hasher = PasswordHasher()


class WeakPassword(ValueError):
    """A password refused before hashing, with the reason."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``; refuses passwords shorter than MIN_PASSWORD_LENGTH."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    """A hash of a random password with the current parameters, made once per process."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; False (never an exception) for a missing or bad hash.

    Without a hash (an unknown user, a password-less account) the password is still verified,
    against a dummy hash, so that the answer costs the same time either way.
    """
    if not password_hash:
        _verify(_dummy_hash(), password)
        return False
    return _verify(password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    """A fresh API token: ``raim_`` followed by 43 url-safe random characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The sha256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_LENGTH]


def looks_like_token(value: str) -> bool:
    """A cheap shape check before any database lookup."""
    return value.startswith(TOKEN_PREFIX) and len(value) > DISPLAY_PREFIX_LENGTH



def redact_tokens(text: str) -> str:
    """``text`` with every token-shaped run replaced by its display prefix and ``[redacted]``."""
    if TOKEN_PREFIX not in text:
        return text
    return TOKEN_SHAPE.sub(lambda match: match.group(0)[:DISPLAY_PREFIX_LENGTH] + REDACTED, text)
