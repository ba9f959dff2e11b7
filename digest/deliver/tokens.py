"""Signed, opaque unsubscribe tokens tied to one subscriber (itsdangerous).

A token carries the subscriber's row id (no address) and a signature made with the
secret: DIGEST_SECRET, else one generated once and kept in the database.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "digest-unsubscribe"


class Tokens:
    """Make and check unsubscribe tokens."""

    def __init__(self, secret: str) -> None:
        self._signer = URLSafeSerializer(secret, salt=_SALT)

    def make(self, subscriber_id: int) -> str:
        return str(self._signer.dumps(subscriber_id))

    def read(self, token: str) -> int | None:
        """The subscriber id, or None for a bad or tampered token."""
        try:
            value = self._signer.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None
