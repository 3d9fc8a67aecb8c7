"""Sign-in throttling: failed sign-ins counted per account and per client address (``limits``).

Only failures count, in a moving window: by default 10 for one email address and 30 from one
client address in any 15 minutes (RAIM_SIGN_IN_ACCOUNT_LIMIT, RAIM_SIGN_IN_ADDRESS_LIMIT).
Once either is reached, every sign-in for that account or from that address is refused,
the right password included, until the oldest counted failure leaves the window; the
refusal says when (``Throttled.retry_after``). A successful sign-in clears its account's
count (it proves the password); an address's count is never cleared early, so one good
account cannot buy an address more guesses at others. Unknown email addresses are counted
like known ones, so throttling tells nothing about who has an account.

The counts live in memory per process by default; RAIM_THROTTLE_STORAGE_URL (a Redis URL)
shares them between several web processes. If that storage fails, sign-in is not blocked
by it: the error is logged and the attempt goes ahead (sign-in stays available).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings

log = logging.getLogger(__name__)

NAMESPACE = "raim-sign-in"
IPV6_PREFIX = 64  # an IPv6 client usually holds a whole /64: count the network


@dataclass(frozen=True)
class Throttled:
    """A refused attempt: seconds until one more may be tried, and why, for a person."""

    retry_after: int
    message: str


class SignInThrottle:
    """Counts failed sign-ins and tells when an account or an address must wait."""

    def __init__(self, account_limit: str, address_limit: str, storage_url: str = "memory://"):
        self.account_limit: RateLimitItem = parse(account_limit)
        self.address_limit: RateLimitItem = parse(address_limit)
        self._limiter = MovingWindowRateLimiter(
            storage_from_string(storage_url, wrap_exceptions=True))

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInThrottle:
        return cls(settings.sign_in_account_limit, settings.sign_in_address_limit,
                   settings.throttle_storage_url)

    def check(self, *, email: str | None, address: str | None) -> Throttled | None:
        """None when this attempt may go ahead; otherwise how long to wait and why."""
        for item, key, whom in self._buckets(email, address):
            try:
                if self._limiter.test(item, *key):
                    continue
                reset_at = self._limiter.get_window_stats(item, *key).reset_time
            except StorageError:
                log.exception("sign-in throttle storage failed; not throttling this attempt")
                return None
            wait = max(1, math.ceil(reset_at - time.time()))
            return Throttled(wait, f"Too many failed sign-ins {whom}. "
                                   f"Try again in {_duration(wait)}.")
        return None

    def failed(self, *, email: str | None, address: str | None) -> None:
        """Count a failed attempt against the account and the address."""
        for item, key, _ in self._buckets(email, address):
            try:
                self._limiter.hit(item, *key)
            except StorageError:
                log.exception("sign-in throttle storage failed; failure not counted")

    def succeeded(self, *, email: str) -> None:
        """The account's password was right: its failures are forgotten (the address's are not)."""
        try:
            self._limiter.clear(self.account_limit, *_account_key(email))
        except StorageError:
            log.exception("sign-in throttle storage failed; failures not cleared")

    def _buckets(self, email: str | None,
                 address: str | None) -> list[tuple[RateLimitItem, tuple[str, ...], str]]:
        buckets = []
        if email is not None:
            buckets.append((self.account_limit, _account_key(email), "for this account"))
        if address is not None:
            buckets.append((self.address_limit, _address_key(address), "from your address"))
        return buckets


def _account_key(email: str) -> tuple[str, ...]:
    """The account's key: a digest of the normalised address (no email in the storage)."""
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
    return (NAMESPACE, "account", digest)


def _address_key(address: str) -> tuple[str, ...]:
    """The client's key: its IPv4 address, or its IPv6 /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (NAMESPACE, "address", address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 6:
        return (NAMESPACE, "address", str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}",
                                                               strict=False)))
    return (NAMESPACE, "address", str(ip))


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
