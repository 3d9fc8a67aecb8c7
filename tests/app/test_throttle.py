"""Sign-in throttle: what counts, whose count, how long to wait, and shared storage."""

import uuid

import pytest

from app.config import Settings
from app.throttle import SignInThrottle, _address_key


def test_throttle_counts_failures_per_account_until_the_limit():
    throttle = SignInThrottle("3 per 15 minutes", "100 per 15 minutes")
    for _ in range(3):
        assert throttle.check(email="ann@example.org", address="192.0.2.1") is None
        throttle.failed(email="ann@example.org", address="192.0.2.1")
    refused = throttle.check(email=" Ann@Example.org ", address="192.0.2.99")
    assert refused is not None and "for this account" in refused.message
    assert 1 <= refused.retry_after <= 900 and "minutes" in refused.message
    assert throttle.check(email="bob@example.org", address="192.0.2.1") is None


def test_throttle_success_clears_the_account_but_not_the_address():
    throttle = SignInThrottle("3 per 15 minutes", "3 per 15 minutes")
    for _ in range(3):
        throttle.failed(email="ann@example.org", address="192.0.2.1")
    throttle.succeeded(email="ann@example.org")
    assert throttle.check(email="ann@example.org", address="192.0.2.2") is None
    refused = throttle.check(email="ann@example.org", address="192.0.2.1")
    assert refused is not None and "from your address" in refused.message


def test_throttle_counts_an_ipv6_client_by_its_64_network():
    assert _address_key("2001:db8:1:2:aaaa::1") == _address_key("2001:db8:1:2:bbbb::9")
    assert _address_key("2001:db8:1:2::1") != _address_key("2001:db8:1:3::1")
    assert _address_key("::ffff:192.0.2.1") == _address_key("192.0.2.1")


def test_throttle_settings_refuse_a_malformed_limit_or_storage():
    with pytest.raises(ValueError, match="not a rate limit"):
        Settings(sign_in_account_limit="lots")
    with pytest.raises(ValueError, match="memory:// or a redis"):
        Settings(throttle_storage_url="mongodb://db/raim")


def test_throttle_storage_failure_does_not_block_sign_in(caplog):
    throttle = SignInThrottle("1 per minute", "1 per minute", "redis://127.0.0.1:1/0")
    throttle.failed(email="ann@example.org", address="192.0.2.1")
    assert throttle.check(email="ann@example.org", address="192.0.2.1") is None
    assert "throttle storage failed" in caplog.text


@pytest.mark.redis
def test_throttle_in_redis_is_shared_by_several_web_processes():
    import redis

    url = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379: {exc}")
    email = f"{uuid.uuid4().hex}@example.org"
    first, second = (SignInThrottle("2 per 15 minutes", "100 per 15 minutes", url)
                     for _ in range(2))
    first.failed(email=email, address=None)
    second.failed(email=email, address=None)
    try:
        assert first.check(email=email, address=None) is not None
        assert second.check(email=email, address=None) is not None
    finally:
        first.succeeded(email=email)
    assert second.check(email=email, address=None) is None
