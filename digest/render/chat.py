"""A digest as a compact team channel message: its top papers (title, link, first
reason), "N more" and the link to the web copy, and that message in each service's
payload, kept within the limits each documents (``docs/channels.md`` names them).

Pure: no HTTP here (``digest.deliver.channels`` posts what this builds)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from digest.model import Digest
from digest.render.cards import card
from digest.render.frame import period_label
from digest.text import more_papers
from digest.vocab import Cadence, ChannelKind, MessageKind

TOP = 10  # papers a message shows; the rest are "N more" on the web copy
WEBHOOK_VERSION = 1
# Slack (docs.slack.dev, "Block Kit" and chat.postMessage): at most 50 blocks; a section's
# text at most 3,000 characters, a header's 150; the top-level text is cut after 40,000
# and should stay within 4,000.
SLACK_BLOCKS, SLACK_SECTION, SLACK_HEADER, SLACK_TEXT = 50, 3000, 150, 4000
# Discord (discord.com/developers, "Execute Webhook" and "Embed Limits"): content 2,000
# characters, 10 embeds, an embed's title 256 and description 4,096, all embeds 6,000.
DISCORD_CONTENT, DISCORD_EMBEDS, DISCORD_TITLE, DISCORD_DESCRIPTION, DISCORD_TOTAL = (
    2000, 10, 256, 4096, 6000)
# ntfy (docs.ntfy.sh, "Limitations"): a message over 4,096 bytes becomes an attachment.
NTFY_BYTES = 4096
REASON_CHARS = 300  # of one paper's reason in a message
TITLE_CHARS = 300  # of a title made a Slack link


@dataclass(frozen=True)
class ChatPaper:
    arxiv_id: str | None
    title: str
    url: str
    authors: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ChatMessage:
    """What every kind of message says: a title ("Daily Papers: Friday 4 Dec 2026"),
    the papers shown, how many more the digest holds, and the web copy's link."""

    title: str
    subscriber: str  # their address (the message goes to their own channel)
    period: str  # ISO time of the digest's period (its scheduled send instant)
    papers: tuple[ChatPaper, ...]
    more: int
    web_url: str | None

    @property
    def more_line(self) -> str:
        if not self.more:
            return ""
        return more_papers(self.more) + (f": {self.web_url}" if self.web_url else "")

    def plain(self) -> str:
        """The message as plain text (Matrix's body, ntfy's message, Slack's fallback)."""
        lines = [self.title, ""]
        for i, p in enumerate(self.papers, 1):
            lines += [f"{i}. {p.title}", f"   {p.url}"] + ([f"   {p.reason}"] if p.reason else [])
        if not self.papers:
            lines.append("Nothing new this time.")
        if self.more_line:
            lines += ["", self.more_line]
        elif self.web_url:
            lines += ["", f"On the web: {self.web_url}"]
        return "\n".join(lines)


def message(digest: Digest, kind: str, period: str, web_url: str | None = None,
            top: int = TOP) -> ChatMessage:
    """The compact message of ``digest`` (a ``vocab.MessageKind``) with its ``top``
    papers; ``web_url``: the digest's web copy, when the pages serve one."""
    sub = digest.subscriber
    brand = Cadence.INSTANT.brand if kind == MessageKind.ALERT else Cadence(sub.cadence).brand
    items = digest.items
    papers = tuple(_paper(item, digest) for item in items[:top])
    return ChatMessage(f"{brand}: {period_label(digest)}", sub.email, period, papers,
                       max(0, len(items) - top), web_url)


def _paper(item: Any, digest: Digest) -> ChatPaper:
    shown = card(item, digest.subscriber)
    reason = _cut(shown.reasons[0], REASON_CHARS) if shown.reasons else ""
    return ChatPaper(item.paper.arxiv_id, shown.title, shown.url,
                     tuple(a.name for a in shown.authors), reason)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


# ---- Slack -----------------------------------------------------------------------------

def _mrkdwn(text: str) -> str:
    """Slack's three control characters escaped (api.slack.com: "Escaping text")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    return f"<{url}|{_mrkdwn(label).replace('|', '¦')}>"


def slack(m: ChatMessage) -> dict[str, Any]:
    """A Slack-format incoming webhook body: ``text`` (notifications and clients without
    blocks) and ``blocks``: a header, a section per paper, "N more" and the web copy."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {
        "type": "plain_text", "text": _cut(m.title, SLACK_HEADER)}}]
    for p in m.papers:
        # A title cut before it becomes a link, so that no cut ever opens a link unclosed.
        text = f"*{_slack_link(p.url, _cut(p.title, TITLE_CHARS))}*" + (
            f"\n{_mrkdwn(p.reason)}" if p.reason else "")
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                    "text": _cut(text, SLACK_SECTION)}})
    if not m.papers:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                    "text": "Nothing new this time."}})
    tail = _tail(m, _slack_link)
    if tail:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": tail}]})
    # The fallback text is mrkdwn too: escaped, then cut (an escape is never split).
    text = _cut(_mrkdwn(m.plain()), SLACK_TEXT)
    return {"text": re.sub(r"&[a-z]{0,3}…$", "…", text), "blocks": blocks[:SLACK_BLOCKS]}


def _tail(m: ChatMessage, link: Any) -> str:
    if m.more:
        words = more_papers(m.more)
        return link(m.web_url, words) if m.web_url else words
    return link(m.web_url, "See it on the web") if m.web_url else ""


# ---- Discord ---------------------------------------------------------------------------

def discord(m: ChatMessage) -> dict[str, Any]:
    """A Discord webhook body: ``content`` (the title, "N more" and the web copy) and an
    embed per paper (title, link, reason), within Discord's limits."""
    content = m.title + (f"\n{m.more_line}" if m.more_line else
                         f"\n<{m.web_url}>" if m.web_url else "")
    if not m.papers:
        content += "\nNothing new this time."
    embeds: list[dict[str, Any]] = []
    total = 0
    for p in m.papers[:DISCORD_EMBEDS]:
        embed = {"title": _cut(p.title, DISCORD_TITLE), "url": p.url,
                 "description": _cut(p.reason, DISCORD_DESCRIPTION)}
        size = len(embed["title"]) + len(embed["description"])
        if total + size > DISCORD_TOTAL:
            break
        total += size
        embeds.append({k: v for k, v in embed.items() if v})
    return {"content": _cut(content, DISCORD_CONTENT), "embeds": embeds,
            "allowed_mentions": {"parse": []}}


# ---- Matrix ----------------------------------------------------------------------------

def matrix(m: ChatMessage) -> dict[str, Any]:
    """An ``m.room.message`` of msgtype ``m.text`` with an HTML ``formatted_body``
    (``org.matrix.custom.html``: the tags the spec recommends, every text escaped)."""
    e = html.escape
    parts = [f"<h4>{e(m.title)}</h4>", "<ol>"]
    for p in m.papers:
        parts.append(f'<li><a href="{e(p.url)}">{e(p.title)}</a>'
                     + (f"<br>{e(p.reason)}" if p.reason else "") + "</li>")
    parts.append("</ol>" if m.papers else "</ol><p>Nothing new this time.</p>")
    tail = _tail(m, lambda url, text: f'<a href="{e(url)}">{e(text)}</a>')
    if tail:
        parts.append(f"<p>{tail}</p>")
    return {"msgtype": "m.text", "body": m.plain(), "format": "org.matrix.custom.html",
            "formatted_body": "".join(parts)}


# ---- ntfy ------------------------------------------------------------------------------

def ntfy(m: ChatMessage, topic: str) -> dict[str, Any]:
    """ntfy's JSON publish (posted to the server's root, the topic in the body): the
    title, the papers as the message (within 4,096 bytes, so it stays a message), the web
    copy (else the first paper) as the click action."""
    lines = [f"{i}. {p.title} {p.url}" for i, p in enumerate(m.papers, 1)] or [
        "Nothing new this time."]
    if m.more_line:
        lines.append(m.more_line)
    text = "\n".join(lines)
    while len(text.encode()) > NTFY_BYTES:
        text = text[:len(text) - max(1, len(text.encode()) - NTFY_BYTES)]
    body: dict[str, Any] = {"topic": topic, "title": m.title, "message": text,
                            "tags": ["newspaper"]}
    click = m.web_url or (m.papers[0].url if m.papers else None)
    if click:
        body["click"] = click
    return body


# ---- our webhook -----------------------------------------------------------------------

def webhook(m: ChatMessage) -> dict[str, Any]:
    """Our generic webhook's body, version 1 (its JSON schema is in docs/channels.md)."""
    return {"version": WEBHOOK_VERSION, "subscriber": m.subscriber, "period": m.period,
            "title": m.title,
            "papers": [{"arxiv_id": p.arxiv_id, "title": p.title, "url": p.url,
                        "authors": list(p.authors), "reason": p.reason} for p in m.papers],
            "more": m.more, "web_url": m.web_url}


BUILDERS = {ChannelKind.SLACK: slack, ChannelKind.DISCORD: discord,
            ChannelKind.MATRIX: matrix, ChannelKind.WEBHOOK: webhook}
