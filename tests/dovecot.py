"""A private Dovecot IMAP server for tests: Debian's package run in the foreground with its
own config file, state and Maildirs in a temp dir, on free loopback ports.

One user (``USER``, ``PASSWORD``) has a Maildir under the temp dir; ``imap_url`` is a
plain ``imap://`` URL (``?starttls=off``: the server offers STARTTLS) and ``imaps_url``
one with implicit TLS whose certificate comes from a throwaway CA (``cafile``, trustme).
``append`` puts a message into a folder over IMAP, as a mail server delivering into the
mailbox would.

Dovecot needs root to start (its processes drop to ``dovecot``, ``dovenull`` and the mail
user); ``dovecot_or_skip`` skips where it cannot run, and fails under DIGEST_REQUIRE_MTA=1.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from tests import daemons
from tests.daemons import require_mta
from tests.smtpserver import TlsFiles, free_port

USER = "digest"
PASSWORD = "s3cret-Imap-pw"

CONF = """\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
# imap:// on loopback is plain text, as a local mail server's may be.
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password is answered at once (a real server waits 2 s).
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{maildir}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
{extra}"""


def require_dovecot() -> None:
    """Skip the test where a private Dovecot cannot run (see the module)."""
    if not daemons.sbin("dovecot"):
        require_mta("Dovecot is not installed (apt-get install dovecot-imapd)")
    if os.geteuid() != 0:
        require_mta("a private Dovecot needs root to start")


def dovecot_or_skip(capabilities: str | None = None, prefix: str = "") -> Iterator[Dovecot]:
    """A running Dovecot for a fixture; skipped where it cannot run."""
    require_dovecot()
    with Dovecot(capabilities, prefix) as dovecot:
        yield dovecot


class Dovecot:
    """``with Dovecot() as imap:`` a running IMAP server with one user and an empty INBOX.

    ``capabilities`` replaces what it offers after login (``"IMAP4rev1"``: as an old
    server, without MOVE, UIDPLUS or NAMESPACE); ``prefix`` puts the user's folders
    under one, as ``"INBOX."`` does on Courier and Cyrus. ``maildir`` serves another
    Maildir written as ``nobody``: ``Postfix().maildir(address)``, so what Postfix
    delivers there is read over IMAP."""

    def __init__(self, capabilities: str | None = None, prefix: str = "",
                 maildir: Path | None = None, password: str = PASSWORD) -> None:
        self.password = password
        self.extra = f"imap_capability = {capabilities}\n" if capabilities else ""
        if prefix:
            self.extra += (f"namespace inbox {{\n  inbox = yes\n  prefix = {prefix}\n"
                           f"  separator = {prefix[-1]}\n}}\n")
        self.port, self.tls_port = free_port(), free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
        self.conf = self.folder / "dovecot.conf"
        self.cafile = self.folder / "ca.pem"
        self.maildir = maildir or self.folder / "mail" / USER
        owner = pwd.getpwnam("nobody")
        self.uid, self.gid = owner.pw_uid, owner.pw_gid
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def imap_url(self) -> str:
        return f"imap://{USER}@127.0.0.1:{self.port}/INBOX?starttls=off"

    @property
    def imaps_url(self) -> str:
        return f"imaps://{USER}@127.0.0.1:{self.tls_port}/INBOX"

    def _write_config(self) -> None:
        self.folder.chmod(0o755)  # the mail user reaches its Maildir through it
        tls = TlsFiles(self.folder)
        tls.cert.private_key_pem.write_to_path(str(self.folder / "key.pem"))
        tls.cert.cert_chain_pems[0].write_to_path(str(self.folder / "cert.pem"))
        (self.folder / "users").write_text(f"{USER}:{{PLAIN}}{self.password}\n",
                                          encoding="utf-8")
        (self.folder / "mail").mkdir()
        shutil.chown(self.folder / "mail", self.uid, self.gid)
        self.conf.write_text(CONF.format(folder=self.folder, uid=self.uid, gid=self.gid,
                                         port=self.port, tls_port=self.tls_port,
                                         extra=self.extra, maildir=self.maildir))

    def __enter__(self) -> Dovecot:
        try:
            self._write_config()
            self._process = daemons.start([daemons.sbin("dovecot"), "-c", str(self.conf), "-F"],
                                          self.folder / "dovecot.err")
            daemons.wait_listening(self._process, (self.port, self.tls_port), self.log_text)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def log_text(self) -> str:
        """Dovecot's log and error output so far (for a failing test's message)."""
        return daemons.logs(self.folder / "dovecot.err", self.folder / "dovecot.log")

    def client(self) -> imaplib.IMAP4:
        """A logged-in plain IMAP client; the caller logs out."""
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.authenticate("PLAIN", lambda _: f"\0{USER}\0{self.password}".encode())
        return client

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        """Put ``messages`` into ``folder`` (unseen), in this order."""
        client = self.client()
        try:
            for message in messages:
                typ, data = client.append(folder, "", None, message)
                assert typ == "OK", data
        finally:
            client.logout()

    def folder_messages(self, folder: str) -> list[tuple[bytes, set[str]]]:
        """Each message of ``folder`` as (raw bytes, its flags), in UID order."""
        client = self.client()
        try:
            typ, data = client.select(folder, readonly=True)
            assert typ == "OK", data
            typ, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
            assert typ == "OK", data
            found: list[tuple[bytes, set[str]]] = []
            for item in data:
                if isinstance(item, tuple):
                    flags = imaplib.ParseFlags(item[0])
                    found.append((item[1], {flag.decode() for flag in flags}))
            return found
        finally:
            client.logout()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # A master may wait seconds for a login process still starting up; nothing here
        # needs a clean stop.
        daemons.stop(self._process, grace=2)
        shutil.rmtree(self.folder, ignore_errors=True)
