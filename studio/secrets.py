"""Masking secrets (stream keys, passwords, API keys) wherever a URL or a setting is printed, logged or stored."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "****"
# Protocols whose last path component is a stream key (rtmp://host/app/KEY, srt streamid aside).
_KEYED_SCHEMES = {"rtmp", "rtmps", "rtmpt", "rtmpe", "rtmpte", "rtmpts"}
_SECRET_QUERY = re.compile(r"(?i)^(key|stream_?key|token|secret|password|passwd|pass|auth|sig|signature|api_?key)$")


def mask_url(url: str) -> str:
    """`url` with its stream key, password and secret query values replaced by ****."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        host = netloc.rpartition("@")[2]
        netloc = f"{user}:{MASK}@{host}"
    path = parts.path
    if parts.scheme.lower() in _KEYED_SCHEMES:
        segments = path.split("/")
        if len([s for s in segments if s]) >= 2 and segments[-1]:
            segments[-1] = MASK
            path = "/".join(segments)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(key, MASK if _SECRET_QUERY.match(key) else value) for key, value in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def secret_parts(url: str) -> list[str]:
    """The pieces of `url` that must never be shown: the whole URL, its stream key, its password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [url]
    if parts.password:
        found.append(parts.password)
    if parts.scheme.lower() in _KEYED_SCHEMES:
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) >= 2:
            found.append(segments[-1])
    for key, value in parse_qsl(parts.query):
        if _SECRET_QUERY.match(key) and value:
            found.append(value)
    return found


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every given secret replaced: URLs by their masked form, other strings by ****. Short strings
    (under 4 characters) are left alone, as masking them would garble ordinary words."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if "://" in secret:
            text = text.replace(secret, mask_url(secret))
            for part in secret_parts(secret)[1:]:
                if len(part) >= 4:
                    text = text.replace(part, MASK)
        elif len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def mask_key(key: str | None) -> str:
    """An API key as it may be shown: unset, or its last four characters."""
    if not key:
        return "unset"
    return f"{MASK}{key[-4:]}" if len(key) > 12 else MASK
