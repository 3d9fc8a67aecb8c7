"""Security headers on every response (pages, API, static files, errors): one ASGI middleware.

The pages load scripts and styles from /static only (no inline ``<script>``, no ``style=""``),
so the Content-Security-Policy allows 'self' and nothing inline; images may also be data: or
blob: URLs (the rating viewer). No page may be framed (``frame-ancestors 'none'`` and
X-Frame-Options), no type sniffed, and no full URL sent as a referrer to other sites. HSTS
is sent only when the service is reached over HTTPS (RAIM_COOKIE_SECURE). A header a route
set itself (the judging images' ``Referrer-Policy: no-referrer``) is kept.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000"  # one year; not includeSubDomains: siblings may not all be HTTPS

SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)


class SecurityHeaders:
    """Adds SECURITY_HEADERS (and HSTS when ``https``) to every HTTP response it passes on."""

    def __init__(self, app: ASGIApp, *, https: bool = False):
        self.app = app
        self.headers = SECURITY_HEADERS + ((("Strict-Transport-Security", HSTS),) if https else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
