"""Signed, opaque tokens for the links in mails and on pages (itsdangerous).

A token says one thing: which action (each has its own salt, so an unsubscribe token
cannot manage), for which subscriber (their random ``ref``, never the row id or the
address), on what (an author's name, a keyword; a mail's card links share one "card"
token and name their target in the link), and for confirmations when it was made (they
expire). The tokens every mail carries (card, manage, unsubscribe) are the bare ref and
its signature (``REF.SIGNATURE``, a key of their own for each action): a 50-card mail
carries its card token 150 times, and the JSON and base64 around the ref would cost
1.5 KB of the 100 KB a mail may have; and making the longer kind costs a zlib
compression (65 µs) that a ref never gains from. Mails sent before carry the longer
kind, which still works.
The tokens in addresses (the VERP return path ``bounces+TOKEN@``, the mailto of
List-Unsubscribe ``unsubscribe+TOKEN@``) are lower-case hex of the ref, the digest's
period and a signature (``make_mail``): mail systems may lower-case a local part, one
must stay within 64 octets, and hex is made in C (base32 is Python, 5 µs a token).
The secret is DIGEST_SECRET, else one generated once and kept in the database; changing
it invalidates every token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, URLSafeSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.signer import HMACAlgorithm

from digest.vocab import BARE_ACTIONS, MAIL_ACTIONS, TOKEN_ACTIONS, Action

# Card: one per mail for all its cards' follow, unfollow and mute links, which name their
# target beside it (older mails carry one follow, unfollow or mute token per link). Bounce
# and mailto: the tokens of the return path and of List-Unsubscribe's mailto.
ACTIONS = TOKEN_ACTIONS
# ``make_bare`` makes the tokens of BARE_ACTIONS, ``make_mail`` those of MAIL_ACTIONS (for
# addresses): both from ``digest.vocab``.
SIGNATURE_BYTES = 12  # 96 bits of HMAC-SHA256: links stay short in a 50-card mail
_REF = r"[A-Za-z0-9_-]{1,64}"  # what a ref may be for a bare card token
_BARE = re.compile(rf"({_REF})\.([A-Za-z0-9_-]{{16}})")  # REF.SIGNATURE
_REF_ONLY = re.compile(_REF)
MAIL_SIGNATURE_BYTES = 10  # 80 bits: a guessed token is as good as none
MAIL_TOKEN_CHARS = 2 * (9 + 4 + MAIL_SIGNATURE_BYTES)  # 46: hex of ref, period, HMAC
_MAIL_REF = re.compile(r"[A-Za-z0-9_-]{12}")  # as new_ref makes it: 9 bytes, no spare bits
_MAIL_TOKEN = re.compile(rf"[0-9a-fA-F]{{{MAIL_TOKEN_CHARS}}}")
_STAMP_MAX = 2**32 - 1  # a period's seconds since 1970, in 4 bytes (until 2106)
# An unsubscribe time travels in a confirmation token as whole microseconds since the epoch
# (exact, as the database keeps it).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


class _ShortHMAC(HMACAlgorithm):
    """HMAC-SHA256 cut to ``SIGNATURE_BYTES`` (compared in constant time, as before)."""

    def __init__(self) -> None:
        super().__init__(hashlib.sha256)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return super().get_signature(key, value)[:SIGNATURE_BYTES]


class Tokens:
    """Make and check tokens."""

    def __init__(self, secret: str) -> None:
        self._signers: dict[str, URLSafeSerializer] = {
            a: URLSafeSerializer(secret, salt=f"digest-{a}", signer_kwargs={
                "algorithm": _ShortHMAC(), "digest_method": hashlib.sha256}) for a in ACTIONS}
        # The derived signing key of each action, worked out once (itsdangerous derives
        # it again for every token): a mail carries dozens of tokens.
        self._keys: dict[str, bytes] = {
            a: s.make_signer().derive_key() for a, s in self._signers.items()}
        # A key of its own for each action's bare tokens, so that no itsdangerous
        # token's value ever reads as a ref.
        self._bare: dict[str, bytes] = {
            a: hmac.digest(self._keys[a], f"bare {a} token".encode(), "sha256")
            for a in BARE_ACTIONS}
        self._mail: dict[str, bytes] = {
            a: hmac.digest(self._keys[a], f"mail {a} token".encode(), "sha256")
            for a in MAIL_ACTIONS}

        # What signs the generic webhook's bodies when its channel has no token of its own.
        self.webhook_key = hmac.digest(secret.encode(), b"digest webhook signature", "sha256")

    def make(self, action: str, ref: str, *args: str | int) -> str:
        """The same bytes as itsdangerous' ``dumps`` (``read`` checks with it), made
        without building a signer per token."""
        payload = json.dumps([ref, *args], ensure_ascii=False, separators=(",", ":")).encode()
        compressed = zlib.compress(payload)
        value = (b"." + base64_encode(compressed) if len(compressed) < len(payload) - 1
                 else base64_encode(payload))
        mac = hmac.digest(self._keys[action], value, "sha256")[:SIGNATURE_BYTES]
        return (value + b"." + base64_encode(mac)).decode()

    def read(self, action: str, token: str) -> list[Any] | None:
        """``[ref, *args]``, or None for a token that is bad, tampered or for another
        action. Only the exact bytes that ``make`` gives are accepted: base64 has spare
        bits, and a token with one of them flipped still decodes to the same value."""
        if action in self._bare and (bare := _BARE.fullmatch(token)):
            ref, mac = bare.groups()  # (an itsdangerous token may have the same shape)
            if hmac.compare_digest(mac, self._sign_bare(action, ref)):
                return [ref]
        signer = self._signers[action]
        try:
            value = signer.loads(token)
        except BadData:
            return None
        if (not isinstance(value, list) or not value or not isinstance(value[0], str)
                or signer.dumps(value) != token):
            return None
        return value

    def make_bare(self, action: str, ref: str) -> str:
        """The token of one of the ``BARE_ACTIONS`` for ``ref``: bare, ``REF.SIGNATURE``
        (``read`` also takes the longer kind that ``make(action, ref)`` gives, as mails
        sent before carry), or that longer kind for a ref that cannot be bare."""
        if not _REF_ONLY.fullmatch(ref):
            return self.make(action, ref)
        return f"{ref}.{self._sign_bare(action, ref)}"

    def make_card(self, ref: str) -> str:
        """The card token of a mail to ``ref`` (``make_bare(Action.CARD, ref)``)."""
        return self.make_bare(Action.CARD, ref)

    def _sign_bare(self, action: str, ref: str) -> str:
        return base64_encode(hmac.digest(self._bare[action], ref.encode(), "sha256")
                             [:SIGNATURE_BYTES]).decode()

    def make_mail(self, action: str, ref: str, period: datetime | None = None) -> str | None:
        """The token of one of the ``MAIL_ACTIONS`` for ``ref`` (and the digest of
        ``period``): lower-case hex of the ref's 9 bytes, the period's 4 and a 10-byte
        HMAC, 46 characters; None for a ref that ``new_ref`` did not make. One HMAC and
        no JSON, compression or base32 (in Python): the return path is made per mail."""
        if not _MAIL_REF.fullmatch(ref):
            return None
        stamp = 0 if period is None else min(max(0, int(period.timestamp())), _STAMP_MAX)
        body = base64.urlsafe_b64decode(ref) + stamp.to_bytes(4, "big")
        return (body + hmac.digest(self._mail[action], body, "sha256")[:MAIL_SIGNATURE_BYTES]
                ).hex()

    def read_mail(self, action: str, token: str) -> tuple[str, datetime | None] | None:
        """``(ref, period)`` of a ``make_mail`` token (in any case: mail systems may
        change a local part's), None when it is bad, tampered or another action's."""
        if not _MAIL_TOKEN.fullmatch(token):
            return None
        data = bytes.fromhex(token)
        body, mac = data[:-MAIL_SIGNATURE_BYTES], data[-MAIL_SIGNATURE_BYTES:]
        if not hmac.compare_digest(mac, hmac.digest(self._mail[action], body, "sha256")
                                   [:MAIL_SIGNATURE_BYTES]):
            return None
        stamp = int.from_bytes(body[9:], "big")
        return (base64.urlsafe_b64encode(body[:9]).decode(),
                datetime.fromtimestamp(stamp, UTC) if stamp else None)

    def make_view(self, ref: str, period: datetime) -> str:
        """The token of the web copy of ``ref``'s digest of ``period``: ``make_mail``'s
        hex (46 characters, one HMAC, made for every mail of a pass), or for a ref that
        ``new_ref`` did not make, the longer kind holding the period's seconds."""
        return self.make_mail(Action.VIEW, ref, period) or self.make(
            Action.VIEW, ref, int(period.timestamp()))

    def read_view(self, token: str) -> tuple[str, datetime] | None:
        """``(ref, period)`` of a ``make_view`` token (the period to the second), None
        when it is bad, tampered or another action's."""
        found = self.read_mail(Action.VIEW, token)
        if found is not None:
            return (found[0], found[1]) if found[1] is not None else None
        value = self.read(Action.VIEW, token)
        if value is None or len(value) != 2 or type(value[1]) is not int or not (
                0 < value[1] <= _STAMP_MAX):
            return None
        return value[0], datetime.fromtimestamp(value[1], UTC)

    def make_confirm(self, ref: str, now: datetime, left: datetime | None = None) -> str:
        """A confirmation token, made at ``now``; for someone who unsubscribed at ``left``,
        it says so (``Store.confirm`` brings back only after that very unsubscribe)."""
        if left is None:
            return self.make(Action.CONFIRM, ref, int(now.timestamp()))
        return self.make(Action.CONFIRM, ref, int(now.timestamp()), (left - _EPOCH) // _MICRO)

    def read_confirm(self, token: str, now: datetime, valid: timedelta
                     ) -> tuple[str, datetime | None] | None:
        """The ref of a confirmation token made at most ``valid`` before ``now``, and the
        unsubscribe it was made after (None for one made for a new address)."""
        value = self.read(Action.CONFIRM, token)
        if value is None or len(value) not in (2, 3) or not all(
                isinstance(v, int) for v in value[1:]):
            return None
        made = datetime.fromtimestamp(value[1], UTC)
        if not timedelta(0) <= now - made + timedelta(minutes=5) or now - made > valid:
            return None
        return value[0], _EPOCH + value[2] * _MICRO if len(value) == 3 else None

