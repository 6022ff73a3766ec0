"""Canonical article URLs (spec, field **url**).

``normalize_url`` resolves a link against the page it was found on and puts it in one
canonical form; ``canonical_url`` also folds the further pages of a multi-page article
(``1024_2.html``) into the article (``1024.html``).

w3lib's ``canonicalize_url`` does the bulk of the work: it makes the URL safe (non-ASCII
percent-encoded as UTF-8, IDNA host), lower-cases the host, resolves ``.``/``..`` segments,
normalises percent-escapes (``%7e`` -> ``~``, ``%2f`` -> ``%2F``) and drops the fragment. It
does not do everything the spec asks, so this module adds:

- the default port (80 for http, 443 for https) is dropped;
- tracking parameters (``TRACKING_PARAMS``, ``utm_*``) are dropped;
- the query is sorted by name only, keeping repeated names in their original order (w3lib
  sorts by name *and* value, which reorders ``?tag=b&tag=a``).

Errors: the pure helpers never raise on junk where an answer exists (``page_number`` and
``same_host`` always answer). ``normalize_url``, ``canonical_url`` and ``url_path`` raise
``ValueError`` naming the URL when it cannot be parsed (bad port, broken IPv6 host), is empty,
has a scheme other than http/https (``javascript:``, ``mailto:``), or has no host; and
``TypeError`` when given something other than a string. A spider catches ``ValueError`` and
logs the link.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, parse_qsl_to_bytes, safe_url_string

#: Query parameters that only track where a visitor came from (matched case-insensitively).
TRACKING_PARAMS: frozenset[str] = frozenset(
    {"spm", "from", "share", "fr", "source", "scene", "share_token"}
)
#: Any parameter whose name starts with one of these is tracking too.
TRACKING_PREFIXES: tuple[str, ...] = ("utm_",)

_DEFAULT_PORTS = {"http": 80, "https": 443}

# The last path segment of a further page of a multi-page article: <id>_<n>.<ext>.
# The id is numeric, so that a listing's list_2.html is not taken for a further page.
_PAGE_RE = re.compile(r"(?P<pre>^|/)(?P<id>[0-9]+)_(?P<n>[1-9][0-9]*)(?P<ext>\.[A-Za-z]{3,5})$")

# Code points the URL standard forbids in a host (besides an IPv6 address's colons).
_FORBIDDEN_HOST_RE = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")

# Leading and trailing C0 controls and spaces, which browsers strip from a URL.
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def _valid_host(host: str | None) -> bool:
    """A non-empty host without forbidden code points (an IPv6 address was checked by urlsplit)."""
    if not host:
        return False
    return ":" in host or _FORBIDDEN_HOST_RE.search(host) is None


def is_tracking_param(name: str) -> bool:
    """Whether a query parameter name is a tracking one (``spm``, ``utm_source``, ``FROM``)."""
    key = name.strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _clean_query(query: str) -> str:
    """Drop tracking parameters; sort the rest by name, stably; encode as w3lib does."""
    if not query:
        return ""
    pairs = [
        (key, value)
        for key, value in parse_qsl_to_bytes(query, keep_blank_values=True)
        if not is_tracking_param(key.decode("latin-1"))
    ]
    pairs.sort(key=lambda pair: pair[0])  # stable: repeated names keep their order
    return urlencode(pairs)


def _netloc(scheme: str, netloc: str) -> str:
    """Drop the scheme's default port from an already lower-cased netloc."""
    parts = urlsplit(f"{scheme}://{netloc}")
    port = parts.port  # ValueError when out of range
    if port is None:
        return netloc.removesuffix(":")
    if port != _DEFAULT_PORTS.get(scheme):
        return netloc
    userinfo, _, hostport = netloc.rpartition("@")
    host = hostport[: hostport.rfind(":")]
    return f"{userinfo}@{host}" if userinfo else host


# A reference that is already canonical relative to a canonical base: a plain absolute
# path of unreserved characters, with no query, fragment, escapes or dot segments. Most
# links of the site look like this; they skip w3lib's (costly) full canonicalisation.
_PLAIN_PATH_RE = re.compile(r"/[A-Za-z0-9._~/-]*")
_NOT_PLAIN_RE = re.compile(r"//|(?:^|/)\.{1,2}(?:/|$)")


@functools.lru_cache(maxsize=256)
def _canonical_base(base: str) -> str | None:
    """`base` when it is already in canonical form (pages repeat: memoised), else None."""
    try:
        return base if normalize_url(base) == base else None
    except ValueError:
        return None


def _plain_join(url: str, base: str | None) -> str | None:
    """The canonical form of a plain path on a canonical base, or None to do it in full."""
    if not base or not _PLAIN_PATH_RE.fullmatch(url) or _NOT_PLAIN_RE.search(url):
        return None
    canonical = _canonical_base(base)
    if canonical is None:
        return None
    parts = urlsplit(canonical)
    return urlunsplit((parts.scheme, parts.netloc, url, "", ""))


def normalize_url(url: str, base: str | None = None) -> str:
    """Return ``url`` resolved against ``base`` (the page it was found on) in canonical form.

    Scheme and host lower-cased, default port dropped, fragment dropped, tracking parameters
    dropped, other parameters kept and sorted by name (repeated names keep their order),
    percent-encoding normalised, dot segments resolved.

    Without ``base``, a relative reference (``/news/a.html?spm=1``) is normalised the same
    way and stays relative.

    Raises ``ValueError`` when the URL cannot be parsed, is empty, is not http(s) or has no
    host, and ``TypeError`` when it is not a string.
    """
    if not isinstance(url, str):
        msg = f"not a URL string: {url!r}"
        raise TypeError(msg)
    text = url.strip(_C0_AND_SPACE)
    if not text and not base:
        msg = "empty URL"
        raise ValueError(msg)
    plain = _plain_join(text, base)
    if plain is not None:
        return plain
    try:
        if base:
            text = urljoin(base.strip(_C0_AND_SPACE), text)
        safe = urlsplit(safe_url_string(text))
        scheme = safe.scheme.lower()
        if scheme and scheme not in _DEFAULT_PORTS:
            msg = f"unsupported URL scheme {scheme!r}"
            raise ValueError(msg)
        query = _clean_query(safe.query)
        head = urlsplit(canonicalize_url(urlunsplit((scheme, safe.netloc, safe.path, "", ""))))
        if scheme and not _valid_host(head.hostname):
            msg = f"no host, or an invalid one: {head.hostname!r}"
            raise ValueError(msg)
        netloc = _netloc(scheme, head.netloc) if scheme else head.netloc
    except ValueError as exc:  # UnicodeError is a ValueError too
        msg = f"cannot normalise URL {url!r}: {exc}"
        raise ValueError(msg) from exc
    return urlunsplit((scheme, netloc, head.path, query, ""))


def canonical_url(url: str, base: str | None = None) -> str:
    """``normalize_url``, and a further page of a multi-page article (``…/1024_2.html``)
    maps to the article (``…/1024.html``). Other URLs (``list_2.html``) are left alone.

    Raises ``ValueError`` as ``normalize_url`` does.
    """
    normal = normalize_url(url, base)
    parts = urlsplit(normal)
    path = _PAGE_RE.sub(r"\g<pre>\g<id>\g<ext>", parts.path, count=1)
    if path == parts.path:
        return normal
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def page_number(url: str) -> int:
    """1 for an article's ``<id>.html`` (and any other URL), N for ``<id>_N.html``. Never raises."""
    if not isinstance(url, str):
        return 1
    path = url.partition("#")[0].partition("?")[0]
    match = _PAGE_RE.search(path)
    return int(match.group("n")) if match else 1


def _host_port(url: str) -> tuple[str, int | None] | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return parts.hostname, parts.port


@functools.lru_cache(maxsize=64)
def _site_host_port(site_url: str) -> tuple[str, int | None] | None:
    try:
        return _host_port(normalize_url(site_url))
    except (ValueError, TypeError):
        return None


# An absolute http(s) URL whose host is plain ASCII: its host and port are read directly.
_PLAIN_HOST_RE = re.compile(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]")


def _plain_host_port(url: str) -> tuple[str, int | None] | None:
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    host = parts.hostname
    if default is None or not host or "@" in parts.netloc or not _PLAIN_HOST_RE.fullmatch(host):
        return None
    port = parts.port  # ValueError when out of range
    return host.strip("[]"), None if port == default else port


def same_host(url: str, site_url: str) -> bool:
    """Whether ``url`` is on the host and port of ``site_url``, whatever the scheme (after
    normalisation: case and default ports do not matter). A relative ``url`` is resolved
    against ``site_url``. Never raises: a URL that cannot be normalised is not on the site."""
    site = _site_host_port(site_url)
    if site is None or not isinstance(url, str):
        return False
    try:
        # Every request of a crawl is checked: the plain case skips w3lib's normalisation.
        other = _plain_host_port(url.strip(_C0_AND_SPACE)) or _host_port(
            normalize_url(url, site_url)
        )
    except (ValueError, TypeError):
        return False
    return site == other


def url_path(url: str) -> str:
    """The path, plus ``?query`` when there is one, without scheme, host or fragment, as the
    gold files write URLs (``/news/rdjj/2025/0822/1001.html``). The URL is not normalised:
    pass ``canonical_url(...)`` for the canonical path.

    Raises ``ValueError`` when the URL cannot be parsed, ``TypeError`` when it is not a string.
    """
    if not isinstance(url, str):
        msg = f"not a URL string: {url!r}"
        raise TypeError(msg)
    try:
        parts = urlsplit(url.strip(_C0_AND_SPACE))
    except ValueError as exc:
        msg = f"cannot parse URL {url!r}: {exc}"
        raise ValueError(msg) from exc
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path
