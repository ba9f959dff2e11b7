"""An IMAP folder as a bounce mailbox: ``ImapMailbox("imaps://user@host/INBOX", password)``.

It reads the folder's messages by UID with BODY.PEEK (reading marks nothing \\Seen), keyed
``UIDVALIDITY:UID``; ``done(key)`` moves one into the processed folder (created when
missing; MOVE where the server has it, else COPY, \\Deleted and UID EXPUNGE), so the next
pass does not see it again. Messages not acted on are left as they were.

``imap://`` speaks STARTTLS when the server offers it (``?starttls=off``: never,
``?starttls=required``: refuse a server that does not); ``imaps://`` is TLS from the
start. Certificates are checked against the system's CAs, or DIGEST_IMAP_CAFILE's.

Raises ``ConfigError`` when the set-up is wrong (the URL, the login, TLS, the folder) and
``MailboxUnavailable`` when the server cannot be reached or drops the connection (try
again later). The password never appears in ``description`` or in any message.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from digest.errors import ConfigError, DigestError

# Seconds to wait for the connection and for each reply.
IMAP_TIMEOUT = 30.0
# Where acted-on messages go: a folder of this name in the user's personal namespace (in a
# Maildir++ store, ".processed": where digest.bounces.mailbox's Maildir reader puts them).
PROCESSED_FOLDER = "processed"
_CHECK = "check DIGEST_BOUNCES_URL"


class MailboxUnavailable(DigestError):
    """The IMAP server could not be reached, or dropped the connection: try again later."""


@dataclass(frozen=True)
class ImapAddress:
    """What an ``imap://`` or ``imaps://`` URL says, the password apart."""

    tls: bool
    host: str
    port: int
    user: str
    folder: str
    starttls: str  # auto | required | off (imap:// only)

    @property
    def description(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'imaps' if self.tls else 'imap'}://{self.user}@{host}:{self.port}/{self.folder}"


def parse_url(url: str) -> tuple[ImapAddress, str | None]:
    """The address and the password (None when the URL has none) of an IMAP URL.

    Raises ConfigError saying how the URL should look, without echoing it (it may hold a
    password).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise ConfigError("DIGEST_BOUNCES_URL must look like imaps://user@host/INBOX or "
                          "imap://user@host:143/INBOX")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    starttls = query.pop("starttls", "auto")
    if query or starttls not in ("auto", "required", "off") or (
            parts.scheme == "imaps" and starttls != "auto"):
        raise ConfigError(f"{_CHECK}: the only option is ?starttls=required|off, "
                          "for imap:// only")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError as e:
        raise ConfigError(f"{_CHECK}: its port is not a number from 1 to 65535") from e
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    if not folder.isascii() or any(c in folder for c in '"\\\r\n'):
        raise ConfigError(f"{_CHECK}: the folder name must be plain ASCII without quotes")
    address = ImapAddress(tls=parts.scheme == "imaps", host=parts.hostname, port=port,
                          user=unquote(parts.username), folder=folder, starttls=starttls)
    return address, unquote(parts.password) if parts.password is not None else None


def _quoted(name: str) -> str:
    return '"' + name + '"'  # parse_url and NAMESPACE leave no quote or backslash in it


class ImapMailbox:
    """One IMAP folder, read and tidied as a bounce ``Mailbox``.

    ``password`` wins over one in the URL. ``processed`` is the folder acted-on messages
    move to; ``env`` holds the settings (DIGEST_IMAP_CAFILE). Connecting and logging in
    happen here, so a wrong set-up fails at once.
    """

    def __init__(self, url: str, password: str | None = None, *,
                 processed: str = PROCESSED_FOLDER, timeout: float = IMAP_TIMEOUT,
                 env: Mapping[str, str] | None = None) -> None:
        self.address, in_url = parse_url(url)
        self.description = self.address.description
        self._password = password if password is not None else in_url
        if not self._password:
            raise ConfigError(f"{self.description} needs a password: set "
                              "DIGEST_IMAP_PASSWORD, or put it in the URL "
                              "(imaps://user:password@host/INBOX)")
        self._processed_name = processed
        self._processed: str | None = None  # its full name once it exists
        self._cafile = (env or {}).get("DIGEST_IMAP_CAFILE") or None
        self._client = self._connect(timeout)
        self._capabilities: set[str] = set()
        try:
            self._login()
            self._uidvalidity = self._select()
        except BaseException:
            self.close()
            raise

    def _tls_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self._cafile)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"DIGEST_IMAP_CAFILE {self._cafile}: cannot be read as "
                              f"PEM certificates ({e.__class__.__name__})") from e

    def _connect(self, timeout: float) -> imaplib.IMAP4:
        a = self.address
        try:
            if a.tls:
                return imaplib.IMAP4_SSL(a.host, a.port, ssl_context=self._tls_context(),
                                         timeout=timeout)
            client = imaplib.IMAP4(a.host, a.port, timeout=timeout)
            if a.starttls != "off" and "STARTTLS" in client.capabilities:
                client.starttls(self._tls_context())
            elif a.starttls == "required":
                client.shutdown()
                raise ConfigError(f"{self.description} does not offer STARTTLS, which "
                                  f"?starttls=required demands: {_CHECK}")
            return client
        except ssl.SSLError as e:
            raise ConfigError(
                f"TLS with {self.description} failed ({e.reason or e.__class__.__name__}): "
                f"{_CHECK}; a private CA's certificate goes in DIGEST_IMAP_CAFILE") from e
        except (OSError, imaplib.IMAP4.error) as e:
            raise MailboxUnavailable(
                f"cannot reach {self.description} ({_reason(e)}); "
                "will try again on the next pass") from e

    def _login(self) -> None:
        user, password = self.address.user, self._password or ""
        try:
            if (user + password).isascii():
                self._client.login(user, password)
            else:  # LOGIN takes ASCII only; SASL PLAIN is UTF-8
                self._client.authenticate(
                    "PLAIN", lambda _: f"\0{user}\0{password}".encode())
        except imaplib.IMAP4.abort as e:
            raise MailboxUnavailable(f"{self.description} dropped the connection at login "
                                     f"({self._scrub(e)})") from e
        except imaplib.IMAP4.error as e:
            raise ConfigError(f"{self.description} refused the login "
                              f"({self._scrub(e)}): {_CHECK} and the password") from e
        self._capabilities = {c.upper() for c in self._call(self._client.capability)[0]
                              .decode(errors="replace").split()}

    def _select(self) -> int:
        folder = self.address.folder
        typ, data = self._send(self._client.select, _quoted(folder))
        if typ != "OK":
            raise ConfigError(f"{self.description}: the folder {folder!r} cannot be opened "
                              f"({_text(data)}): {_CHECK}")
        values = self._client.response("UIDVALIDITY")[1]
        if not values or values[0] is None:
            raise MailboxUnavailable(f"{self.description} gave no UIDVALIDITY")
        return int(values[0])

    def _scrub(self, e: BaseException) -> str:
        text = _reason(e)
        return text.replace(self._password, "***") if self._password else text

    def _send(self, command: Callable[..., tuple[str, list[Any]]],
              *args: str) -> tuple[str, list[Any]]:
        """An IMAP command's result; a lost connection is ``MailboxUnavailable``."""
        try:
            return command(*args)
        except (OSError, imaplib.IMAP4.abort) as e:
            raise MailboxUnavailable(f"{self.description}: connection lost "
                                     f"({_reason(e)})") from e
        except imaplib.IMAP4.error as e:
            raise MailboxUnavailable(f"{self.description}: {self._scrub(e)}") from e

    def _call(self, command: Callable[..., tuple[str, list[Any]]], *args: str) -> list[bytes]:
        """The data of an IMAP command that must succeed (else ``MailboxUnavailable``)."""
        typ, data = self._send(command, *args)
        if typ != "OK":
            raise MailboxUnavailable(f"{self.description}: {' '.join(args[:1])} refused "
                                     f"({_text(data)})")
        return [d for d in data if isinstance(d, bytes)] or [b""]

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """Each message of the folder not yet done, as (``UIDVALIDITY:UID``, raw bytes),
        fetched one at a time without setting \\Seen."""
        uids = self._call(self._client.uid, "SEARCH", "UNDELETED")[0].split()
        for uid in uids:
            raw = self._fetch(uid.decode())
            if raw is not None:  # gone since the search (another reader)
                yield f"{self._uidvalidity}:{uid.decode()}", raw

    def _fetch(self, uid: str) -> bytes | None:
        typ, data = self._send(self._client.uid, "FETCH", uid, "(BODY.PEEK[])")
        if typ != "OK":
            raise MailboxUnavailable(f"{self.description}: FETCH refused ({_text(data)})")
        # Only this UID's response: another message's may come unasked (a flag change).
        parts = [item[1] for item in data if isinstance(item, tuple)
                 and re.search(rb"\bUID %s\b" % uid.encode(), item[0])]
        return parts[0] if parts else None

    def done(self, key: str) -> None:
        """Move the message ``key`` into the processed folder (created when missing).

        Raises ValueError for a key this folder did not give (another UIDVALIDITY: the
        folder was recreated, so the UID may now be another message), ConfigError when
        the processed folder cannot be created, MailboxUnavailable when the move fails.
        """
        validity, _, uid = key.partition(":")
        if validity != str(self._uidvalidity) or not uid.isdigit():
            raise ValueError(f"{key!r} is not a message key of {self.description} now")
        target = self._processed_folder()
        if "MOVE" in self._capabilities:
            self._call(self._client.uid, "MOVE", uid, target)
            return
        self._call(self._client.uid, "COPY", uid, target)
        self._call(self._client.uid, "STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
        if "UIDPLUS" in self._capabilities:
            self._call(self._client.uid, "EXPUNGE", uid)
        # Without UIDPLUS the copy stays \Deleted here (messages() skips it): a plain
        # EXPUNGE would also remove what someone else marked \Deleted.

    def _processed_folder(self) -> str:
        if self._processed is None:
            name = _quoted(self._namespace_prefix() + self._processed_name)
            typ, data = self._send(self._client.create, name)
            # A refused CREATE is fine when the folder is there already.
            if typ != "OK" and self._call(self._client.list, '""', name) == [b""]:
                raise ConfigError(f"{self.description}: cannot create the folder {name} "
                                  f"for processed mail ({_text(data)}): {_CHECK} and the "
                                  "account's rights")
            self._processed = name
        return self._processed

    def _namespace_prefix(self) -> str:
        """The personal namespace's prefix ("INBOX." on some servers, often "")."""
        if "NAMESPACE" not in self._capabilities:
            return ""
        found = re.match(rb'\(\("([^"\\]*)"', self._call(self._client.namespace)[0])
        return found.group(1).decode("ascii", "replace") if found else ""

    def close(self) -> None:
        """Log out; a connection already gone is fine."""
        try:
            self._client.logout()
        except (OSError, imaplib.IMAP4.error):
            with contextlib.suppress(OSError):
                self._client.shutdown()

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _reason(e: BaseException) -> str:
    """What an exception says; imaplib's refusals carry the server's reply as bytes."""
    if e.args and isinstance(e.args[0], bytes):
        return e.args[0].decode(errors="replace")
    return str(e) or e.__class__.__name__


def _text(data: list[Any]) -> str:
    return " ".join(d.decode(errors="replace") for d in data if isinstance(d, bytes))
