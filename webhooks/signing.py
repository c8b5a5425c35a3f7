"""Signing a delivery and checking a signature (what a receiver does; docs/webhooks.md shows it)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Revops-Signature"
TIMESTAMP_HEADER = "X-Revops-Timestamp"
DELIVERY_HEADER = "X-Revops-Delivery"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` with ``secret``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str | int, body: bytes, header: str, *, now: float, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp`` with ``secret``, no older than ``tolerance`` seconds."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - stamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), header or "")
