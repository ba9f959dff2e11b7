"""A private Postfix for tests: Debian's package as a loopback relay with its own config
directory, queue and Maildirs in a temp dir, run in the foreground under the test's control.

Every domain in ``DOMAINS`` is a virtual mailbox domain (no system users needed): each
address in ``mailboxes`` has a Maildir ``<folder>/mail/<domain>/<name>/``, and with
``recipient_delimiter = +`` ``bounces+TOKEN@example.org`` lands in ``bounces``' Maildir
with the full address in Delivered-To and X-Original-To. ``pipe`` maps an address to a
command run as ``nobody`` with the mail on its stdin (a master.cf ``pipe`` service, as an
operator routes bounces to ``digest bounces``). Any other address of those
domains (``REFUSED``, say) is taken at SMTP time, as a relay that does not know the
mailboxes behind it takes it, and refused later by the delivery agent, virtual(8), so
Postfix itself sends a DSN to the envelope sender; ``FULL`` is refused for now (4.2.2)
and, with no queue lifetime to wait out, given up at once (a DSN with that status). Mail
to other domains is refused at RCPT: nothing is ever sent to another host and no DNS is
looked up.

Postfix needs root to start (its master drops privileges to the ``postfix`` user); where
it is not installed or the tests are not root, ``postfix_or_skip`` skips, and fails under
DIGEST_REQUIRE_MTA=1 (as scripts/test runs).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from tests import daemons
from tests.daemons import require_mta
from tests.smtpserver import free_port

DOMAINS = ("example.org", "example.net")
# ada and digest@ are tests/mailing.py's subscriber and sender (its grace is refused).
MAILBOXES = ("alice@example.org", "ada@example.org", "bob@example.net",
             "bounces@example.org", "digest@example.org", "postmaster@example.org")
REFUSED = "carol@example.org"  # of a domain here, but no mailbox
# Refused at delivery for now (4.2.2, a full mailbox): with no queue lifetime to wait out,
# Postfix gives up at once and its DSN says failed with that temporary status.
FULL = "dave@example.org"


def postfix_or_skip(mailboxes: tuple[str, ...] = MAILBOXES) -> Iterator[Postfix]:
    """A running Postfix for a fixture; skipped where it cannot run (see the module)."""
    if not daemons.sbin("postfix"):
        require_mta("Postfix is not installed (apt-get install postfix)")
    if os.geteuid() != 0:
        require_mta("a private Postfix needs root to start its master")
    with Postfix(mailboxes) as postfix:
        yield postfix


MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
myhostname = mx.example.org
mydomain = example.org
myorigin = example.org
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# Nothing is looked up in the DNS and nothing leaves this machine.
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
relayhost =
default_transport = error:5.4.6 tests send nothing to another host
relay_transport = error:5.4.6 tests send nothing to another host
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {folder}/mail
virtual_mailbox_maps = texthash:{folder}/mailboxes
# Addresses delivered to a command instead (``pipe``), as bounces go to `digest bounces`.
transport_maps = texthash:{folder}/transport
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
recipient_delimiter = +
smtpd_relay_restrictions = reject_unauth_destination
# Recipients are not checked at SMTP time, as a relay that does not know the mailboxes
# behind it: virtual(8) refuses an unknown one at delivery ("5.1.1 unknown user").
smtpd_reject_unlisted_recipient = no
alias_maps =
alias_database =
smtpd_banner = $myhostname ESMTP test relay
# A refused mail bounces at once, and nothing waits for a retry or for the queue manager.
bounce_queue_lifetime = 0
maximal_queue_lifetime = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
in_flow_delay = 0
biff = no
"""

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """``with Postfix() as mta:`` a running Postfix; ``mta.url`` is a DIGEST_SMTP_URL,
    ``mta.maildir("alice@example.org")`` that address's Maildir, ``mta.wait_empty()``
    waits until every mail in the queue was delivered or bounced."""

    def __init__(self, mailboxes: tuple[str, ...] = MAILBOXES,
                 pipe: dict[str, str] | None = None) -> None:
        self.mailboxes, self.pipe = mailboxes, pipe or {}
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
        self.config = self.folder / "etc"
        self.log = self.folder / "maillog"
        self._process: subprocess.Popen[bytes] | None = None
        # Mail is written as an unprivileged user: virtual(8) refuses to deliver as root.
        owner = pwd.getpwnam("nobody")
        self.uid, self.gid = owner.pw_uid, owner.pw_gid

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=off"

    def maildir(self, address: str) -> Path:
        """The Maildir of ``address`` (one of ``mailboxes``), once mail has reached it."""
        local, domain = address.split("@")
        return self.folder / "mail" / domain / local

    def messages(self, address: str) -> list[bytes]:
        """The raw messages delivered to ``address``, oldest first."""
        new = self.maildir(address) / "new"
        found = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns) if new.is_dir() else []
        return [path.read_bytes() for path in found]

    def _write_config(self) -> None:
        self.config.mkdir()
        self.folder.chmod(0o755)  # the daemons run as postfix and as nobody
        for name in ("data", "mail", "queue"):
            (self.folder / name).mkdir()
        shutil.chown(self.folder / "mail", self.uid, self.gid)
        (self.config / "main.cf").write_text(MAIN_CF.format(
            folder=self.folder, domains=", ".join(DOMAINS), uid=self.uid, gid=self.gid))
        (self.config / "master.cf").write_text(MASTER_CF.format(port=self.port) + "".join(
            f"pipe{n} unix - n n - - pipe\n  flags=DORq user=nobody argv={argv}\n"
            for n, argv in enumerate(self.pipe.values())))
        (self.folder / "transport").write_text(f"{FULL} retry:4.2.2 mailbox full\n" + "".join(
            f"{address} pipe{n}:\n" for n, address in enumerate(self.pipe)))
        (self.folder / "mailboxes").write_text("".join(
            f"{a} {a.split('@')[1]}/{a.split('@')[0]}/\n" for a in self.mailboxes))
        shutil.chown(self.folder / "data", "postfix", "postfix")

    def _daemon_directory(self) -> str:
        """Where the Postfix daemons are (/usr/lib/postfix/sbin on Debian)."""
        found = subprocess.run([daemons.sbin("postconf"), "-c", str(self.config), "-h",
                                "daemon_directory"], capture_output=True, text=True, timeout=30)
        assert found.returncode == 0, found.stderr
        return found.stdout.strip()

    def _postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([daemons.sbin("postfix"), "-c", str(self.config), *args],
                              capture_output=True, text=True, timeout=60)

    def __enter__(self) -> Postfix:
        try:
            self._write_config()
            # Creates the queue directories with Postfix's owners and modes.
            checked = self._postfix("check")
            assert checked.returncode == 0, checked.stderr + checked.stdout
            self._process = daemons.start(
                [f"{self._daemon_directory()}/master", "-c", str(self.config), "-d"],
                self.folder / "master.err")
            daemons.wait_listening(self._process, (self.port,), self.log_text)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def log_text(self) -> str:
        """Postfix's log and its master's output so far (for a failing test's message)."""
        return daemons.logs(self.folder / "master.err", self.log)

    def queue(self) -> list[dict[str, object]]:
        """The mail still in the queue (``postqueue -j``), one dict per message."""
        shown = subprocess.run([daemons.sbin("postqueue"), "-c", str(self.config), "-j"],
                               capture_output=True, text=True, timeout=30)
        assert shown.returncode == 0, shown.stderr
        return [json.loads(line) for line in shown.stdout.splitlines() if line.strip()]

    def wait_empty(self, seconds: float = 30.0) -> None:
        """Wait until the queue is empty: every mail delivered or bounced, and every
        bounce delivered (a DSN is queued before the mail it reports leaves the queue)."""
        deadline = time.monotonic() + seconds
        while queued := self.queue():
            if time.monotonic() > deadline:
                raise AssertionError(f"still queued after {seconds} s: {queued}\n"
                                     f"{self.log_text()}")
            time.sleep(0.1)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        daemons.stop(self._process, grace=10)
        shutil.rmtree(self.folder, ignore_errors=True)
