"""The one exception hierarchy of digest.

Every error a user can cause is a ``DigestError`` whose message says what went wrong and
what to do about it; the CLI prints it as ``Error: ...`` and exits 1.
"""

from __future__ import annotations

import difflib


class DigestError(Exception):
    """Base class of every error digest reports to its user."""


class ConfigError(DigestError):
    """A setting, option or configuration file is invalid."""


class UnknownSubscriber(DigestError):
    """A command named a subscriber that neither the subscriptions file nor the database
    holds: a typo, most often, not a broken setting."""


class InputError(DigestError):
    """An input file or response cannot be read as a paper source.

    ``source`` names the file or URL, ``reason`` says why; ``str()`` joins both.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class FetchError(InputError):
    """A live source could not be fetched (HTTP error, timeout, cut-off body)."""


class StoreError(DigestError):
    """The database cannot be opened or written."""


def unknown_key(key: object, allowed: tuple[str, ...]) -> str:
    """The message of an unknown key: the allowed key it is a misspelling of ("did you
    mean 'cadence'?"), or every allowed key when it is none's."""
    close = difflib.get_close_matches(str(key).casefold(), allowed, n=1, cutoff=0.75)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; allowed: {', '.join(allowed)}"
