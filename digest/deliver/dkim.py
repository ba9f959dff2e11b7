"""DKIM signatures (RFC 6376): every mail digest sends carries one, so that receivers can
tell it comes from the From domain (Gmail and Yahoo demand it of bulk senders) and that
its unsubscribe headers are the ones that were sent (RFC 8058 one-click needs them signed).

An rsa-sha256 signature with DIGEST_DKIM_KEY under DIGEST_DKIM_SELECTOR, and an
ed25519-sha256 one (RFC 8463) beside it with DIGEST_DKIM_ED25519_KEY under
DIGEST_DKIM_ED25519_SELECTOR; the domain is DIGEST_FROM's, or DIGEST_DKIM_DOMAIN.
Canonicalisation is relaxed/relaxed, so a relay that refolds a header or trims spaces
does not break it.

Signing is dkimpy's ``DKIM.sign`` taken apart, to do once what is the same for every
message: its functions parse the headers, canonicalise them, fold and hash the signature
header (the header list is fixed once); the body is canonicalised by replaces in C
(``_canonical_body``), and the hash signed by ``cryptography`` (OpenSSL) with a key
loaded once. ``dkim.sign`` parses the PEM key again for every message, runs regular
expressions over the whole body and signs with pure-Python RSA: 10.7 ms a 47 KB digest
here (9.5 ms of it in ``pow``), where this takes about 0.5 ms.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from dkim.canonicalization import (
    CanonicalizationPolicy,
    correct_empty_body,
    strip_trailing_lines,
)

from digest.errors import ConfigError

# What each signature covers: what a receiver shows or acts on, and what says how to read
# the body. Each is named twice (the second time it is absent): a header added in transit
# (a second Subject, another List-Unsubscribe) breaks the signature instead of riding on it.
SIGNED = (b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
          b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id", b"mime-version",
          b"content-type")
_H = SIGNED + SIGNED
_POLICY = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_SELECTOR = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
                       r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*")
MIN_RSA_BITS = 1024  # receivers ignore shorter keys (RFC 8301)
RSA_BITS = 2048  # what keygen makes: what Gmail and RFC 8301 recommend

M = TypeVar("M", bound=bytes)


@dataclass(frozen=True)
class Key:
    """One signing key: its algorithm's name, selector, domain and a function that signs a
    SHA-256 digest."""

    algorithm: bytes  # rsa-sha256 | ed25519-sha256
    selector: bytes
    domain: bytes
    sign_digest: Callable[[bytes], bytes]


class Signer:
    """Adds a DKIM-Signature per key to messages with CRLF line ends, the RSA one on top
    (a verifier that checks only one checks the first)."""

    def __init__(self, keys: tuple[Key, ...], clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.clock = clock

    def sign(self, message: M) -> M:
        """``message`` with its signatures in front, as the same class (``Wire`` stays
        ``Wire``: a signature is one ASCII header, CRLF only, no leading dot)."""
        head, _, body = message.partition(b"\r\n\r\n")
        headers = _POLICY.canonicalize_headers(dkim.rfc822_parse(head + b"\r\n")[0])
        body_hash = base64.b64encode(hashlib.sha256(_canonical_body(body)).digest())
        stamp = str(int(self.clock())).encode()
        signatures = b"".join(_signature(key, headers, body_hash, stamp)
                              for key in self.keys)
        return type(message)(signatures + message)


def _canonical_body(body: bytes) -> bytes:
    """The body as relaxed canonicalisation makes it (dkimpy's ``Relaxed``), by replaces
    in C: every tab a space, runs of spaces halved until none is left, then the space
    before each line end dropped. dkimpy's regular expressions replace every space, single
    ones too (2 ms a 47 KB digest, whose text part indents every line). Lines are
    canonicalised each on its own, so only those up to the last with something to change
    are (a digest's text part: a fifth of it), which three searches from the end tell."""
    last = max(body.rfind(b"  "), body.rfind(b"\t"), body.rfind(b" \r\n"))
    if last >= 0:
        cut = body.find(b"\n", last) + 1 or len(body)
        body = _squeeze(body[:cut]) + body[cut:]
    return bytes(correct_empty_body(strip_trailing_lines(body)))


def _squeeze(lines: bytes) -> bytes:
    if b"\t" in lines:
        lines = lines.replace(b"\t", b" ")
    while b"  " in lines:
        lines = lines.replace(b"  ", b" ")
    return lines.replace(b" \r\n", b"\r\n")


def _signature(key: Key, headers: list[tuple[bytes, bytes]], body_hash: bytes,
               stamp: bytes) -> bytes:
    """One DKIM-Signature header as dkimpy writes it (``DKIM.gen_header``): folded with a
    placeholder for b= so that b= starts a line of its own, the header hashed without
    b='s value, then b= filled in and folded again (only its line changes)."""
    fields = [(b"v", b"1"), (b"a", key.algorithm), (b"c", b"relaxed/relaxed"),
              (b"d", key.domain), (b"s", key.selector), (b"t", stamp),
              (b"h", b" : ".join(_H)), (b"bh", body_hash), (b"b", b"0" * 60)]
    value = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len("DKIM-Signature"))
    value = dkim.RE_BTAG.sub(b"\\1", value)
    hasher = hashlib.sha256()
    dkim.hash_headers(hasher, _POLICY, headers, _H, (b"DKIM-Signature", b" " + value), {})
    signature = base64.b64encode(key.sign_digest(hasher.digest()))
    folded: bytes = dkim.fold(value + signature + b"\r\n", namelen=len("DKIM-Signature"))
    return b"DKIM-Signature: " + folded


def signer_from_env(env: Mapping[str, str], from_domain: str) -> Signer | None:
    """The signer the settings ask for, or None when DIGEST_DKIM_KEY is not set.

    Raises ConfigError naming the setting: a key file that is missing, unreadable or not a
    private key of its kind, a selector missing or malformed."""
    rsa_path, ed_path = env.get("DIGEST_DKIM_KEY"), env.get("DIGEST_DKIM_ED25519_KEY")
    for setting in ("DIGEST_DKIM_SELECTOR", "DIGEST_DKIM_ED25519_SELECTOR",
                    "DIGEST_DKIM_DOMAIN", "DIGEST_DKIM_ED25519_KEY"):
        if env.get(setting) and not rsa_path:
            raise ConfigError(f"{setting} is set but DIGEST_DKIM_KEY is not: set it to the "
                              "RSA private key (digest dkim keygen makes one), or unset "
                              f"{setting}")
    if not rsa_path:
        return None
    domain = _domain(env.get("DIGEST_DKIM_DOMAIN") or from_domain)
    keys = [_key("DIGEST_DKIM_KEY", rsa_path, "DIGEST_DKIM_SELECTOR", env, domain)]
    if ed_path:
        keys.append(_key("DIGEST_DKIM_ED25519_KEY", ed_path, "DIGEST_DKIM_ED25519_SELECTOR",
                         env, domain))
    return Signer(tuple(keys))


def new_key(kind: str) -> tuple[bytes, str]:
    """A new private key of ``kind`` (rsa: 2048 bits; ed25519) as unencrypted PKCS#8 PEM,
    and the value of the DNS TXT record that publishes its public half (RFC 6376 3.6.1;
    an Ed25519 key's p= is its 32 bytes, RFC 8463)."""
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        public = private.public_key().public_bytes(Encoding.DER,
                                                   PublicFormat.SubjectPublicKeyInfo)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return pem, f"v=DKIM1; k={kind}; p={base64.b64encode(public).decode()}"


def txt_record(selector: str, domain: str, value: str) -> str:
    """The zone-file line that publishes ``value``: one TXT string holds at most 255
    octets (RFC 1035), so a 2048-bit key's record is several, which DNS joins."""
    chunks = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    return f"{selector}._domainkey.{domain}. IN TXT {chunks}"


def check_selector(setting: str, selector: str) -> None:
    """Raises ConfigError when ``selector`` is not a DNS name under _domainkey."""
    if not _SELECTOR.fullmatch(selector):
        raise ConfigError(f"{setting} {selector!r} is not a DNS label; use letters, "
                          "digits and hyphens, like mail2026")


def _domain(name: str) -> bytes:
    """The signing domain in ASCII (an international one as IDNA); ConfigError when it is
    not a domain name."""
    try:
        ascii_name = name.strip().rstrip(".").encode("idna").decode()
    except UnicodeError:
        ascii_name = ""
    if not _SELECTOR.fullmatch(ascii_name):
        raise ConfigError(f"DIGEST_DKIM_DOMAIN {name!r} is not a domain name; give "
                          "DIGEST_FROM's domain or a parent of it, like example.org")
    return ascii_name.encode()


def _key(setting: str, path: str, selector_setting: str, env: Mapping[str, str],
         domain: bytes) -> Key:
    selector = (env.get(selector_setting) or "").strip()
    if not selector:
        raise ConfigError(f"{selector_setting} is not set: {setting} needs the selector its "
                          "public key is published under (S in the DNS name "
                          f"S._domainkey.{domain.decode()})")
    check_selector(selector_setting, selector)
    private = _load(setting, Path(path))
    if setting == "DIGEST_DKIM_KEY":
        if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < MIN_RSA_BITS:
            raise ConfigError(f"{setting}: {path} is not an RSA private key of "
                              f"{MIN_RSA_BITS} bits or more; make one with digest dkim "
                              "keygen --type rsa")
        return Key(b"rsa-sha256", selector.encode(), domain, _rsa_signer(private))
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise ConfigError(f"{setting}: {path} is not an Ed25519 private key; make one with "
                          "digest dkim keygen --type ed25519")
    return Key(b"ed25519-sha256", selector.encode(), domain, private.sign)


def _load(setting: str, path: Path) -> object:
    """The private key in the PEM file at ``path``; ConfigError naming ``setting``."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{setting}: cannot read {path} ({e.strerror}); check the path and "
                          "that this user may read it") from e
    try:
        return load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise ConfigError(f"{setting}: {path} is not an unencrypted PEM private key; make "
                          "one with digest dkim keygen") from e


def _rsa_signer(private: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
    def sign(digest: bytes) -> bytes:
        return private.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))

    return sign
