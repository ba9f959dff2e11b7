"""The ``digest`` command line: thin commands over the library.

Every command parses its options, takes what it works with from the ``App`` it is handed
(``digest.cli.base``), calls the library and prints. The command modules know nothing of
each other's registration: this module puts their commands on the group.
"""

from __future__ import annotations

from digest.cli import bot, bounces, database, digests, dkim, mail, papers, subscribers
from digest.cli.base import cli

__all__ = ["cli", "main"]

COMMANDS = (papers.ingest, papers.papers, digests.check, digests.preview, mail.send,
            mail.worker, mail.test_mail, mail.serve, mail.unsubscribe, mail.resubscribe,
            subscribers.subscribers, bot.run, bot.status, bounces.bounces, database.db_group,
            dkim.dkim_group)
for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="digest")
