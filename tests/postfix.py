"""A real Postfix for tests: a private instance (its own configuration, queue and log in
a temporary folder, its SMTP server on a free loopback port) that takes mail for
example.net and refuses every address there after accepting it, so that Postfix's own
bounce daemon writes the DSN; every other domain is relayed to ``relay_port`` (a
``tests.smtpserver.SmtpServer`` that records what arrives: the DSNs). Needs root and
the postfix package; ``postfix_or_skip`` skips with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.smtpserver import free_port

DAEMONS = """\
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """The running instance: ``url`` is its SMTP server, ``log`` its mail log."""

    def __init__(self, folder: Path, relay_port: int, refusal: str) -> None:
        self.folder, self.port = folder, free_port()
        etc = folder / "etc"
        etc.mkdir(parents=True)
        (folder / "queue").mkdir()
        (folder / "data").mkdir()
        shutil.chown(folder / "data", "postfix")
        for name in ("postfix-files", "postfix-files.d", "dynamicmaps.cf",
                     "dynamicmaps.cf.d", "post-install", "postfix-script"):
            source = Path("/etc/postfix") / name
            if source.is_dir():
                shutil.copytree(source, etc / name)
            elif source.exists():
                shutil.copy(source, etc / name)
        (etc / "master.cf").write_text(
            f"127.0.0.1:{self.port} inet n - n - - smtpd\n" + DAEMONS)
        (etc / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
meta_directory = {etc}
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
myhostname = mx.example.net
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.net
transport_maps = inline:{{ {{example.net = error:{refusal}}} }}
smtpd_reject_unlisted_recipient = no
relayhost = [127.0.0.1]:{relay_port}
smtp_dns_support_level = disabled
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject
""")
        self.etc = etc

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.folder / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def command(self, *args: str) -> None:
        done = subprocess.run(["postfix", "-c", str(self.etc), *args], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, f"postfix {args}: {done.stderr}\n{self.log}"


def postfix_or_skip(relay_port: int, refusal: str = "5.1.1 User unknown"
                    ) -> Iterator[Postfix]:
    """A started private Postfix (stopped after), or a skip saying why there is none."""
    if shutil.which("postfix") is None or os.geteuid() != 0:
        pytest.skip("a real Postfix needs the postfix package and root")
    folder = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
    folder.chmod(0o755)  # its daemons, as the postfix user, work in the queue inside
    server = Postfix(folder, relay_port, refusal)
    try:
        server.command("start")
        yield server
    finally:
        subprocess.run(["postfix", "-c", str(server.etc), "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
