"""Delivery: send every digest the outbox holds exactly once.

A pass first plans (``digest.passes``: planning, then delivery; ``digest.plan`` gives one
digest per subscriber and period, or a skipped or missed record). Then it delivers:
digests are claimed a batch at a time (``sending``, committed before any SMTP traffic),
rendered (``Mailer``: cards and frames once per pass),
sent over the transport's pool of connections, and their outcomes recorded a batch per
transaction after the server's replies: ``sent`` with their papers after a 250; ``retry``
on 4xx, a dropped connection or a timeout (exponential back-off capped at an hour, until
the subscriber's ``grace_hours`` run out); ``failed`` on 5xx, with the server's reply.
Only a refusal of the address is a bounce (DIGEST_BOUNCE_LIMIT of them in a row mark the
subscriber ``bouncing``, skipped until an admin resets them); a refusal of the message or
its sender blames nobody, and the same one for several digests in a row stops the pass
(the set-up's problem: those digests wait to be sent again). A reply that is not SMTP at
all is the server's fault, not the digest's: it is retried without counting, and a few
in a row stop the pass. The pass adapts to a server that wants less (``Throttle``):
fewer connections when it turns one away, sends further apart after a 4xx. Papers of a
digest that failed, or that was still unsent ``grace_hours`` after its time (then
``missed``), stay due for the next digest.
A digest left in ``sending`` by a process that died is sent again with the same
Message-ID once its lease runs out: at least once, never lost.

Its modules: ``mail`` (the mail settings and the links a mail carries), ``mailer`` (an
outbox row as its message), ``sending`` (the pass's delivery), ``outcomes`` (what a send
comes to, and the pace), ``transport`` and ``session`` (SMTP and Maildir), ``message``,
``dkim``, ``tokens``, ``throttle`` and ``refusals``; ``channels`` posts the digests'
team channel messages (Slack, Discord, Matrix, ntfy, a webhook) after the mail.
"""

from __future__ import annotations

from digest.deliver.mail import (
    ACTION_PATHS,
    CARD_PATHS,
    TASTE_PATHS,
    UNSUBSCRIBE_LOCAL,
    MailSettings,
    bounce_address,
    refuse_localhost,
    tokens_for,
)
from digest.deliver.mailer import Mailer, NoteSource
from digest.deliver.outcomes import Owed, Pace, PassReport, transport_rate
from digest.deliver.sending import BATCH, FLUSH, deliver

__all__ = ["ACTION_PATHS", "BATCH", "CARD_PATHS", "FLUSH", "TASTE_PATHS", "UNSUBSCRIBE_LOCAL",
           "MailSettings", "Mailer", "NoteSource", "Owed", "Pace", "PassReport",
           "bounce_address", "deliver", "refuse_localhost", "tokens_for", "transport_rate"]
