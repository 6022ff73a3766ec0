"""What `ecnews crawl` checks before it starts anything: a usable site URL (exit 2) and
a site that answers at all (exit 1). Each problem is one sentence, never an exception."""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlsplit

from crawler.urls import normalize_url

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def site_url_problem(url: str) -> str | None:
    """Why `url` cannot be the site root (scheme, host, port), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as error:
        return f"bad site URL {url!r}: {error}"
    if parts.scheme not in SCHEMES:
        hint = "" if parts.scheme else " (no scheme: write http://… or https://…)"
        return f"bad site URL {url!r}: the scheme must be http or https{hint}"
    if not parts.hostname:
        return f"bad site URL {url!r}: no host"
    if port == 0:
        return f"bad site URL {url!r}: port 0"
    try:
        normalize_url(url.rstrip("/") + "/")  # what the spider will do with it
    except ValueError as error:
        return f"bad site URL {url!r}: {error}"
    return None


def _proxied(url: str) -> bool:
    """A proxy in the environment serves this URL: a direct probe would prove nothing."""
    parts = urlsplit(url)
    return parts.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(
        parts.hostname or ""
    )


def site_unreachable(url: str, timeout: float) -> str | None:
    """Why no TCP connection to the site can be made (refused, unknown host, no answer
    within `timeout` seconds), or None. HTTP-level trouble is the crawl's to judge."""
    if _proxied(url):
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror as error:
        return f"cannot resolve host {host!r} ({error.strerror})"
    except ConnectionRefusedError:
        return f"connection refused by {where}"
    except TimeoutError:
        return f"no answer from {where} within {timeout:g} s"
    except OSError as error:
        return f"cannot connect to {where}: {error.strerror or error}"
