"""Where mails come back from: a Maildir, an mbox file, one mail on standard input (an
MTA piping into ``digest bounces -``), or an IMAP folder (``digest.bounces.imap``).

Every kind offers the same small ``Mailbox`` protocol. ``done`` is called only after a
mail's effect is committed with its record (by hash), so a crash in between costs a
second reading, which the record turns into nothing. Nothing is ever deleted: a Maildir
moves what was acted on into its ``.processed`` folder (marked seen), an mbox is never
edited (the database remembers), standard input has nothing to move.
"""

from __future__ import annotations

import contextlib
import logging
import mailbox
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol

from digest.errors import ConfigError

log = logging.getLogger("digest.bounces")
PROCESSED = ".processed"  # the Maildir++ folder a Maildir's mails acted on go to


class Mailbox(Protocol):
    description: str  # for messages; never a password

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """(key within this mailbox, the raw bytes) of each mail."""
        ...

    def done(self, key: str) -> None:
        """The mail was acted on: move it out of the way, or flag it."""
        ...

    def close(self) -> None: ...


def open_mailbox(source: str, stdin: BinaryIO | None = None,
                 env: Mapping[str, str] | None = None) -> Mailbox:
    """The mailbox ``source`` names: ``-`` (one mail on ``stdin``), ``imap://`` or
    ``imaps://user:password@host/folder`` (the password also from ``env``'s
    DIGEST_IMAP_PASSWORD, its CA file from DIGEST_IMAP_CAFILE), a Maildir folder or an
    mbox file. ConfigError when there is no such mailbox."""
    if source == "-":
        if stdin is None:
            raise ConfigError("'-' reads one mail on standard input, but there is none")
        return StdinMailbox(stdin)
    if source.lower().startswith(("imap://", "imaps://")):
        from digest.bounces.imap import ImapMailbox  # imaplib only for those who use it

        given = env or {}
        box: Mailbox = ImapMailbox(source, given.get("DIGEST_IMAP_PASSWORD"), env=given)
        return box
    path = Path(source)
    if path.is_dir():
        return MaildirMailbox(path)
    if path.is_file():
        with path.open("rb") as file:
            start = file.read(5)
        if start and start != b"From ":
            raise ConfigError(f"{source} is not an mbox (an mbox starts with a 'From ' "
                              "line); give a Maildir folder, an mbox file, '-' for one mail "
                              "on standard input, or imaps://user@host/folder")
        return MboxMailbox(path)
    raise ConfigError(f"no mailbox at {source}: give a Maildir folder, an mbox file, '-' "
                      "for one mail on standard input, or imaps://user@host/folder")


class MaildirMailbox:
    """A Maildir's new and current mails, read in place; ``done`` moves one into the
    ``.processed`` folder, marked seen (a rename: no copy, nothing lost in a crash)."""

    def __init__(self, path: Path) -> None:
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise ConfigError(f"{path} is not a Maildir (it has no new/ and cur/ folders); "
                              "give the folder the mail server delivers into")
        self.path = path
        self.description = f"Maildir {path}"

    def messages(self) -> Iterator[tuple[str, bytes]]:
        for sub in ("new", "cur"):
            for name in sorted(os.listdir(self.path / sub)):
                if name.startswith("."):
                    continue
                try:
                    data = (self.path / sub / name).read_bytes()
                except FileNotFoundError:
                    continue  # another reader moved it meanwhile
                except OSError as e:  # not a mail one can read: left for a person
                    log.warning("%s: cannot read %s/%s (%s); left where it is",
                                self.description, sub, name, e.strerror or e)
                    continue
                yield f"{sub}/{name}", data

    def done(self, key: str) -> None:
        sub, _, name = key.partition("/")
        target = self.path / PROCESSED
        for folder in ("tmp", "new", "cur"):
            (target / folder).mkdir(parents=True, exist_ok=True)
        (target / "maildirfolder").touch()
        base, _, flags = name.partition(":2,")
        flags = "".join(sorted(set(flags) | {"S"}))
        with contextlib.suppress(FileNotFoundError):  # moved already, by another reader
            os.rename(self.path / sub / name, target / "cur" / f"{base}:2,{flags}")

    def close(self) -> None:
        pass


class MboxMailbox:
    """An mbox file, read and never written: the database remembers what was done."""

    def __init__(self, path: Path) -> None:
        self.box = mailbox.mbox(path, create=False)
        self.description = f"mbox {path}"

    def messages(self) -> Iterator[tuple[str, bytes]]:
        for key in self.box.iterkeys():
            yield str(key), self.box.get_bytes(key)

    def done(self, key: str) -> None:
        pass

    def close(self) -> None:
        self.box.close()


class StdinMailbox:
    """One mail on standard input, as an MTA's pipe delivers it."""

    description = "standard input"

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def messages(self) -> Iterator[tuple[str, bytes]]:
        yield "stdin", self.stream.read()

    def done(self, key: str) -> None:
        pass

    def close(self) -> None:
        pass
