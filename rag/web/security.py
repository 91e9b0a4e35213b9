"""The web app's guards: answer only to known host names, refuse cross-origin writes, show no server paths."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("rla.web")

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def host_name(value: str) -> str | None:
    """The host name of a Host header or host option ("[::1]:7860" → "::1"), lower case; None when malformed."""
    value = value.strip()
    if not value:
        return None
    if ":" in value and not value.startswith("[") and value.count(":") > 1:
        value = f"[{value}]"  # a bare IPv6 address, as given on the command line
    try:
        parts = urlsplit(f"//{value}")
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return None
    name = (parts.hostname or "").rstrip(".")
    return name or None


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names the app answers to: this computer's, the address it listens on, and any given."""
    names = set(LOCAL_HOSTS)
    if bound not in WILDCARDS:
        names.add(host_name(bound) or bound)
    for value in extra:
        name = host_name(value)
        if name is None:
            raise ValueError(f"{value!r} is not a host name; give names such as rla.example.org or 192.0.2.7")
        names.add(name)
    return frozenset(names)


class HostGuard:
    """ASGI middleware in front of the whole app.

    A request whose Host header names another host (DNS rebinding: a web page whose name now points at this
    computer) gets 400. A write (POST, PUT, PATCH, DELETE) or websocket whose Origin is another site gets 403,
    so no page elsewhere can post to the app in a user's browser. Requests without an Origin (API clients) pass.
    """

    def __init__(self, app: ASGIApp, hosts: frozenset[str], port: int) -> None:
        self.app = app
        self.hosts = hosts
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            log.warning("refused a request for host %r (allowed: %s)", host[:100], ", ".join(sorted(self.hosts)))
            await _refuse(scope, receive, send, 400, "rla: unknown host name; start the app with --allowed-hosts NAME")
            return
        writes = scope["type"] == "websocket" or scope.get("method", "GET") in WRITES
        origin = headers.get("origin")
        if writes and origin is not None and not self.same_site(origin, host):
            log.warning("refused a %s from origin %r", scope.get("method", "websocket"), origin[:100])
            await _refuse(scope, receive, send, 403, "rla: requests from other sites are refused")
            return
        await self.app(scope, receive, send)

    def same_site(self, origin: str, host: str) -> bool:
        """The Origin is this app: an allowed host name on the app's port, or exactly the Host it was sent to."""
        try:
            parts = urlsplit(origin)
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False  # "null" (sandboxed pages, file:// documents) included
        if parts.netloc.lower() == host.strip().lower():
            return True  # same origin, e.g. through a reverse proxy that keeps the Host header
        return parts.hostname.rstrip(".") in self.hosts and port == self.port


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})  # policy violation; the server answers 403
        return
    from starlette.responses import PlainTextResponse

    await PlainTextResponse(text, status_code=status)(scope, receive, send)


@dataclass(frozen=True)
class PublicPaths:
    """Server paths as users may see them: the corpus and index folders by their own names (``corpus/x.pdf``,
    ``index/``), never where they sit on the server. Absolute paths stay in the server log."""

    pattern: re.Pattern[str] | None
    labels: dict[str, str]

    @classmethod
    def of(cls, folders: dict[Path, str], files: dict[Path, str] | None = None) -> PublicPaths:
        """`folders` and `files` map a server path to the name users see for it."""
        labels: dict[str, str] = {}
        for places, slash in ((folders, "/"), (files or {}, "")):
            for path, label in places.items():
                for form in (path.absolute(), path.resolve()):
                    if str(form) != "/":
                        labels[str(form)] = label + slash
        if not labels:
            return cls(None, {})
        # Longest first, and only whole path components: /srv/corpus2 is not /srv/corpus.
        alternatives = "|".join(re.escape(p) for p in sorted(labels, key=len, reverse=True))
        return cls(re.compile(f"({alternatives})(?=$|[/\\s'\"`;,:)\\]]|\\.(?:\\s|$))/?"), labels)

    def __call__(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: self.labels[m.group(1)], text)
