"""URLs that leave the adapter: where a request goes, and which links an incident carries.

    path_segment(value)          a value as one path segment: `/`, `?`, `#` and a bare `.` or
                                 `..` are data (`%2F`, `%3F`, `%23`, `%2E%2E`), never syntax
    join(base, path, query)      the base URL's path + path, its query + query
    outside(url, base)           why a request URL is not under the receiver's url, or None
    web_link(url)                the URL if it is an http(s) link, else None
    public_url(url)              the URL without what can carry a secret: userinfo, query,
                                 fragment (a configured URL that an incident may show)

The receiver's `url` is the whole of where its requests may go: the same scheme, host and
port, a path under its path, its query kept. An alert's labels fill in paths (an alias, a
template's `{{ alert.labels.service }}`); they must not climb out of that path (`../admin`),
add query parameters (`x?admin=1`), or make a segment the client collapses (a key of `..`
turning `/v2/alerts/{alias}/close` into `/v2/close`). The pipeline checks every request of
every dialect with `outside` after rendering (adapter/pipeline.py), so a new dialect cannot
forget it; the transports send the URL as written, without decoding `%2E` or collapsing
segments (adapter/transport.py), so what is checked is what goes out.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import SplitResult, quote, urlsplit

from adapter.secrets import redact_url

# RFC 3986 pchar, and `/`: what a path may hold as written; anything else must arrive
# percent-encoded (a client would encode it its own way, or send it raw).
_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*\Z")
_QUERY = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*\Z")


def path_segment(value: str) -> str:
    """A value as one path segment, every reserved character percent-encoded."""
    quoted = quote(value, safe="")
    if quoted in (".", ".."):  # unreserved, so quote leaves them; the client would collapse them
        return quoted.replace(".", "%2E")
    return quoted


def join(base: str, path: str = "", query: str = "") -> str:
    """base + path, with the base's query (if any) after the path and `query` after that.

    `join("https://h/api?k=1", "/x/close", "type=alias")` is
    `https://h/api/x/close?k=1&type=alias`: a path appended to a base with a query must not
    land inside the query."""
    parts = _split(base)
    joined = parts.path.rstrip("/") + path if path else parts.path
    both = "&".join(q for q in (parts.query, query) if q)
    url = f"{parts.scheme}://{parts.netloc}{joined}"
    return f"{url}?{both}" if both else url


def public_url(url: str) -> str:
    """`https://user:pw@am:9093/prefix?x=1#y` is `https://am:9093/prefix`: what of a configured
    URL may leave the adapter in an incident's text or links ("" if it is not a URL)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


@functools.lru_cache(maxsize=64)
def _split(url: str) -> SplitResult:
    return urlsplit(url)


def outside(url: str, base: str) -> str | None:
    """Why `url` is not under `base` (scheme, host, port, path prefix, query), or None."""
    if url == base:  # most requests: the receiver's url itself
        return None
    fixed = _split(base)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme != fixed.scheme or parts.netloc != fixed.netloc:
        return f"it goes to {parts.scheme}://{parts.hostname or '?'}, not {fixed.hostname}"
    if "#" in url:
        return "it holds a '#'"
    if not _PATH.match(parts.path) or not _QUERY.match(parts.query):
        return "it holds a character that is not percent-encoded"
    prefix = fixed.path.rstrip("/")
    if parts.path != prefix and not parts.path.startswith(prefix + "/"):
        return f"its path is not under {prefix or '/'}"
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return "a path segment is '.' or '..', which the client would collapse"
    if fixed.query and parts.query != fixed.query and not parts.query.startswith(fixed.query + "&"):
        return "it drops the query of the receiver's url"
    return None


def check_under(url: str, base: str) -> str | None:
    """`outside`, as the sentence an answer and a log line carry (secrets redacted)."""
    why = outside(url, base)
    if why is None:
        return None
    shown = redact_url(url)
    shown = shown if len(shown) <= 200 else shown[:200] + "…"
    return f"the request URL {shown} is not under the receiver's url {redact_url(base)}: {why}"


@functools.lru_cache(maxsize=1024)
def web_link(url: str | None) -> str | None:
    """The URL, without surrounding whitespace, if it is an http(s) link; else None
    (`javascript:`, `data:`, `file:`, a relative path, anything with a control character).

    Remembered for the last 1,024 URLs: an alert's links are its rule's (generatorURL,
    runbook_url) and its Alertmanager's (externalURL), the same for every alert of a rule,
    and each event renders up to three."""
    if not url:
        return None
    url = url.strip()
    scheme = url[:8].lower()
    if not (scheme.startswith("https://") or scheme.startswith("http://")):
        return None
    # No control character anywhere: browsers drop a tab or newline inside a URL, so
    # `java\tscript:` would be `javascript:` (here it cannot be: the scheme is http(s)).
    return url if url.isprintable() and len(url) > url.index("://") + 3 else None
