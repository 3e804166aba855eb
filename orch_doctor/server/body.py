"""Answers from a server, read safely: raw bytes capped before anything is decoded, content
encodings undone by a bounded decompressor layer by layer, JSON parsed with a depth bound.

A server is asked for ``Accept-Encoding: identity``; one that compresses anyway (or stacks
``gzip, gzip`` to inflate 1 KB into gigabytes) gets at most ``cap`` bytes out of each layer, so
memory stays about the cap and time is bounded by it.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

#: ask for the body as it is (no compression): the cap then applies to what is read
IDENTITY = {"Accept-Encoding": "identity"}
MAX_JSON_DEPTH = 64
_STEP = 1 << 16


class BodyError(ValueError):
    """The body cannot be decoded (an unsupported or broken content encoding)."""


def decode_body(raw: bytes, content_encoding: str | None, cap: int) -> tuple[bytes, bool]:
    """(decoded body, truncated): undo each encoding in ``content_encoding`` (last applied
    first), never producing more than ``cap`` bytes from any layer."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    if len(codings) > 4:
        raise BodyError(f"{len(codings)} stacked content encodings")
    body, truncated = raw, False
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            body, cut = _inflate(body, zlib.MAX_WBITS | 16, cap)
        elif coding == "deflate":
            try:
                body, cut = _inflate(body, zlib.MAX_WBITS, cap)
            except BodyError:  # some servers send raw deflate without the zlib header
                body, cut = _inflate(body, -zlib.MAX_WBITS, cap)
        else:
            raise BodyError(f"unsupported content encoding {coding[:40]!r}")
        truncated = truncated or cut
    if len(body) > cap:
        body, truncated = body[:cap], True
    return body, truncated


def _inflate(data: bytes, wbits: int, cap: int) -> tuple[bytes, bool]:
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    try:
        while pending and len(out) <= cap:
            chunk = inflater.decompress(pending, min(_STEP, cap + 1 - len(out)))
            out.extend(chunk)
            pending = inflater.unconsumed_tail
            if not chunk and not pending:
                break
        if len(out) <= cap and not pending:
            out.extend(inflater.flush(cap + 1 - len(out)) if cap + 1 > len(out) else b"")
    except zlib.error as exc:
        raise BodyError(f"broken compressed body ({exc})") from None
    if len(out) > cap:
        return bytes(out[:cap]), True
    return bytes(out), False


def json_depth_ok(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``data`` nests at most ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in item)
    return True


def loads(body: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON from ``body``; ValueError when it is not JSON or nests deeper than ``max_depth``."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError(f"not valid JSON: nested deeper than {max_depth} levels") from None
    if not json_depth_ok(data, max_depth):
        raise ValueError(f"not valid JSON: nested deeper than {max_depth} levels")
    return data
