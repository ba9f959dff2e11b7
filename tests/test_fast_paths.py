"""What a pass does once instead of once per mail gives the same mail as doing it per
mail: cached cards and frames, the message builder, tokens signed without itsdangerous'
signer per token, keyword highlighting without a regex per keyword; and the pieces that
let several processes share a pass: the shared send pace and job leases."""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, message_from_string, policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import digest.render.fast as render
from digest.config import load_config
from digest.deliver import MailSettings, Pace
from digest.deliver.message import Envelope, build_message
from digest.deliver.tokens import Tokens
from digest.deliver.transport import PermanentError, SmtpConnection, SmtpSettings
from digest.match import plural_forms, words
from digest.model import Digest, Item, Reason, Rendered, Section
from digest.plan import build_digests
from digest.render import Links, Renderer, render_digest
from digest.render.cards import _highlighted, snippet_text
from digest.store import Store
from tests.conftest import DATA, ROOT, SEEDS
from tests.smtpserver import Scripted, SmtpServer
from tests.test_rank import ingest

NOW = datetime(2026, 6, 1, 6, tzinfo=UTC)
MAIL = MailSettings(Envelope.parse("Paper Digest <digest@example.org>", "Paper Digest"),
                    "https://digest.example.org")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'd.db'}")
    ingest(store, SEEDS, now=datetime(2026, 6, 1, 5, tzinfo=UTC))
    ingest(store, DATA / "hf-daily", now=datetime(2026, 6, 1, 5, tzinfo=UTC))
    return store


def readers(seeded: Store, count: int) -> list[Digest]:
    """Digests of ``count`` readers who follow overlapping authors and keywords, some of
    them self-managed (their cards carry action links), some long (deduplicated links)."""
    config = load_config(ROOT / "subscriptions.yaml")
    base = config.subscribers[0]
    rng = random.Random(5)
    names = sorted({a for p in seeded.papers() for a in p.authors})
    phrases = ["flow matching", "diffusion", "language models", "attention", "transformer"]
    subs = [replace(base, email=f"r{i}@example.org", name=f"Reader {i}",
                    authors=tuple(rng.sample(names, rng.randint(0, 3))),
                    keywords=tuple(rng.sample(phrases, rng.randint(0, 2))),
                    max_papers=rng.choice((5, 20, 30)), max_age_days=3650,
                    managed=rng.choice(("db", "file")), ref=f"ref{i}")
            for i in range(count)]
    return build_digests(seeded, subs, NOW)


def test_a_shared_renderer_gives_every_mail_as_rendering_it_alone(seeded: Store) -> None:
    tokens = Tokens("secret")
    shared = Renderer()
    digests = readers(seeded, 60)
    assert any(len(d.items) > 20 for d in digests)  # long digests drop repeated links
    assert any(d.subscriber.managed == "db" and d.items for d in digests)
    for digest in digests * 2:  # the second round comes from the caches
        links = MAIL.links(tokens, digest.subscriber)
        assert links.token or digest.subscriber.managed != "db"
        # cards filled in once but for the token, or each link of each mail filled in
        assert shared.render(digest, links) == render_digest(digest, links) == \
            render_digest(digest, replace(links, token=""))
        alert = Digest(digest.subscriber, digest.start, digest.end, digest.sections[:1])
        assert shared.render(alert, links, "alert") == render_digest(alert, links,
                                                                     kind="alert")


def test_a_long_digest_links_each_action_once_and_every_link_goes_somewhere(
        seeded: Store) -> None:
    """A card that shows a Follow link before Unfollow links, in a long digest whose
    earlier cards linked one of them: the links left out were counted in the wrong order,
    so the card lost its Follow link and showed an Unfollow link with no URL."""
    tokens = Tokens("secret")
    renderer = Renderer()
    checked = 0
    for digest in readers(seeded, 60):
        links = MAIL.links(tokens, digest.subscriber)
        if len(digest.items) <= 20 or not links.token:
            continue
        mail = renderer.render(digest, links)
        actions = re.findall(r"^   ((?:Follow|Unfollow|Mute|More like|Less like)[^:]*):(.*)$",
                             mail.text, re.M)
        assert actions and all(url.startswith(" https://") for _, url in actions), actions
        urls = [url for _, url in actions]
        assert len(urls) == len(set(urls))  # each action linked once
        hrefs = re.findall(r'href="([^"]*)"', mail.html)
        assert "" not in hrefs and sorted(u.strip() for u in urls) == sorted(
            h.replace("&amp;", "&") for h in hrefs if f"/{links.token}?" in h)
        checked += any(label.startswith("Follow") for label, _ in actions) and any(
            label.startswith("Unfollow") for label, _ in actions)
    assert checked  # some of them have both kinds


def test_a_long_digest_links_an_author_once_in_any_spelling(seeded: Store) -> None:
    """Two cards spell a followed author two ways ("Yi-Fan Zhang", "Yifan Zhang"): one
    Unfollow link, as for one spelling (the name is matched in any spelling)."""
    reader = replace(readers(seeded, 1)[0].subscriber, authors=("Yi-Fan Zhang",),
                     managed="db", ref="ref-spelling")
    papers = [p for p in seeded.papers() if p.arxiv_id][:25]
    spelled = {0: "Yi-Fan Zhang", 6: "Yifan Zhang", 12: "Yi-fan ZHANG"}
    items = tuple(Item(replace(p, authors=(spelled[i], "A. Other")) if i in spelled else p,
                       (Reason("author", spelled[i]),) if i in spelled else
                       (Reason("trending"),))
                  for i, p in enumerate(papers))
    digest = Digest(reader, NOW - timedelta(days=1), NOW, (Section("authors", items),))
    links = MAIL.links(Tokens("secret"), reader)
    mail = Renderer().render(digest, links)
    unfollow = re.findall(r"^   Unfollow ([^:]+): (\S+)$", mail.text, re.M)
    assert len(unfollow) == 1 and unfollow[0][0] == "Yi-Fan Zhang", unfollow
    assert mail.html.count("Unfollow ") == 1


def test_a_card_kept_filled_in_several_ways_gives_each_mail_its_own(seeded: Store) -> None:
    """One way of showing a card, filled in for two sets of links (a long digest whose
    earlier card linked its Unfollow, and one whose did not) and two sites: each mail
    is the mail rendered alone."""
    reader = replace(readers(seeded, 1)[0].subscriber, authors=("Yi-Fan Zhang",),
                     managed="db", ref="ref-several")
    papers = [p for p in seeded.papers() if p.arxiv_id][:25]

    def long_digest(followed_first: bool) -> Digest:
        by = {0, 6} if followed_first else {6}  # the cards by the followed author
        items = tuple(Item(replace(p, authors=("Yi-Fan Zhang", "A. Other")),
                           (Reason("author", "Yi-Fan Zhang"),)) if i in by else
                      Item(p, (Reason("trending"),)) for i, p in enumerate(papers))
        return Digest(reader, NOW - timedelta(days=1), NOW, (Section("authors", items),))

    renderer = Renderer()
    other_site = replace(MAIL, base_url="https://other.example.org")
    for mail in (MAIL, other_site):
        for digest in (long_digest(True), long_digest(False)):
            links = mail.links(Tokens("secret"), reader)
            assert renderer.render(digest, links) == render_digest(digest, links)
    assert max(len(shown.pairs()) for shown in renderer._shown._new.values()) == 4


def test_a_token_that_is_part_of_a_links_path_fills_in_no_card(seeded: Store) -> None:
    """A mail whose token is also a path's part ("f", as in /f/TOKEN) or comes after the
    target: its links are filled in per mail, and no card is kept cut at the wrong place
    for the next mail (a helper found the follow link of the next mail pointing at
    /TOKEN/f)."""
    digest = next(d for d in readers(seeded, 60)
                  if d.subscriber.managed == "db" and len(d.items) <= 20 and d.items)
    real = MAIL.links(Tokens("secret"), digest.subscriber)
    assert real.action is not None
    action = real.action
    odd = [Links(real.unsubscribe, real.manage,
                 lambda k, t: action(k, t).replace(real.token, "f"), "f"),
           Links(real.unsubscribe, real.manage,
                 lambda k, t: f"https://digest.example.org/{k}/{t}/{real.token}", real.token)]
    for links in odd:
        renderer = Renderer()
        assert renderer.render(digest, links) == render_digest(digest, links)
        assert renderer.render(digest, real) == render_digest(digest, real)
        assert "/f/" + real.token in renderer.render(digest, real).text


def test_a_text_part_tidied_as_a_frame_is_the_text_tidied_whole(
        seeded: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = Tokens("secret")
    shared, whole = Renderer(), Renderer()
    whole.tidy_frames = False  # every text part rendered and tidied whole
    tidied: list[int] = []
    real_tidy = render._tidy

    def tidy(text: str) -> str:
        tidied.append(len(text))
        return real_tidy(text)

    monkeypatch.setattr(render, "_tidy", tidy)
    digests = readers(seeded, 60)
    for digest in digests * 2:
        links = MAIL.links(tokens, digest.subscriber)
        for kind in ("digest", "alert"):
            tidied.clear()
            text = shared.render(digest, links, kind).text
            as_frame = digest.items and links.token and all(n < len(text) / 2 for n in tidied)
            assert text == whole.render(digest, links, kind).text
            assert as_frame or not (digest.items and links.token), digest.subscriber.email
    assert render._is_tidy("1. A title\n   by Ada\n\n   https://x.org/a") and not any(
        render._is_tidy(t) for t in ("", " 1. x", "1. x ", "1.\n\n\nx", "1.\rx", "a\u2028b",
                                     "a  \nb", "a\n \nb"))


def test_a_card_template_that_leaves_spaces_gives_a_text_tidied_whole(
        seeded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator's card template whose lines end in spaces: its cards are not tidy, so
    each mail's text part is tidied whole, as before."""
    for path in (ROOT / "templates").iterdir():
        if path.is_file():
            (tmp_path / path.name).write_text(path.read_text())
    card = (tmp_path / "_card.txt").read_text()
    title = '| replace("     ", "", 1) }}'
    assert title in card
    (tmp_path / "_card.txt").write_text(card.replace(title, title + "   ", 1))
    monkeypatch.setenv("DIGEST_TEMPLATES", str(tmp_path))
    tokens = Tokens("secret")
    shared, whole = Renderer(), Renderer()
    whole.tidy_frames = False
    for digest in readers(seeded, 12):
        links = MAIL.links(tokens, digest.subscriber)
        text = shared.render(digest, links).text
        assert text == whole.render(digest, links).text
        assert not any(line.endswith(" ") for line in text.splitlines())
    kept = [text for shown in shared._shown._new.values() for _, text in shown.pairs()]
    assert kept and not any(text.tidy for text in kept)  # so each text was tidied whole


def test_the_shipped_card_templates_are_rendered_in_parts_and_inlined_once() -> None:
    renderer = Renderer()
    html, text = renderer._templates["html"], renderer._templates["txt"]
    assert html.parted and html.inline is None  # the stylesheet is in the template
    assert text.parted


def test_a_card_template_that_cannot_be_inlined_ahead_is_inlined_per_card(
        seeded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (ROOT / "templates").iterdir():
        if path.is_file():
            (tmp_path / path.name).write_text(path.read_text())
    card = (tmp_path / "_card.html").read_text()
    # A loop around cells: an HTML parser moves the loop's tags (text in a table row)
    # out of the table, so inlining the template's source would break the loop.
    (tmp_path / "_card.html").write_text(card.replace(
        "<tr>", '<tr>{% for b in card.badges %}<td class="vote">{{ b }}</td>{% endfor %}', 1))
    monkeypatch.setenv("DIGEST_TEMPLATES", str(tmp_path))
    renderer = Renderer()
    assert not renderer._templates["html"].parted
    digest = next(d for d in readers(seeded, 20) if any(it.paper.has_code for it in d.items))
    links = MAIL.placeholders(digest.subscriber)
    html = renderer.render(digest, links).html
    assert html == render_digest(digest, links).html
    assert '<td style="width:44px;padding:14px 0 0 12px">Code</td>' in html


OLD_CARD = """\
<table role="presentation" class="card" cellpadding="0" cellspacing="0"><tr>
<td class="vote"><div class="votebox">&#9650;<br>{{ card.upvotes }}</div></td>
<td class="body"><a class="title" href="{{ card.url }}">{{ card.title }}</a>
<div>{% for author in card.authors %}{{ author.name }} {% endfor %}</div>
{%- if card.actions %}<div class="acts">{% for link in card.actions %}\
<a href="{{ link.url }}">{{ link.label }}</a>{% endfor %}</div>{% endif %}
</td></tr></table>
"""


def test_a_card_template_without_parts_is_rendered_whole(
        seeded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A template written before cards had parts (no macros) still works."""
    for path in (ROOT / "templates").iterdir():
        if path.is_file():
            (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "_card.html").write_text(OLD_CARD)
    monkeypatch.setenv("DIGEST_TEMPLATES", str(tmp_path))
    renderer = Renderer()
    assert not renderer._templates["html"].parted
    digest = next(d for d in readers(seeded, 20)
                  if d.subscriber.managed == "db" and d.items)
    links = MAIL.links(Tokens("secret"), digest.subscriber)
    html = renderer.render(digest, links).html
    assert html == render_digest(digest, links).html
    assert html.count('style="width:100%;background:#fff') == len(digest.items)
    assert "https://digest.example.org/f/" in html  # action links filled in


def old_message(rendered: Rendered, to_name: str, to_email: str) -> EmailMessage:
    """The message as email.message built it before (the SMTP policy, set_content)."""
    local, _, domain = to_email.rpartition("@")
    msg = EmailMessage(policy=policy.SMTP)
    msg["To"] = Address(to_name, local, domain)
    msg["Subject"] = rendered.subject
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


@pytest.mark.parametrize(("name", "subject"), [
    ("Ada", "Daily Papers for Ada: 3 new"),
    ("Zoë O'Brien, Jr.", "Weekly Papers for Zoë: 7 new, from “flow matching” and ünïcödé"),
    ("", "A subject that is long enough to be folded over two lines by any sensible mail "
         "software, " * 2 + "twice."),
])
def test_the_message_builder_says_what_email_message_said(name: str, subject: str) -> None:
    rendered = Rendered(subject, "Text ▲ part\n. a line with a dot\ntrailing space \n",
                        "<p>HTML ▲ part</p>\n" * 500 + "<p>" + "x" * 2000 + "</p>\n")
    data = build_message(rendered, envelope=MAIL.envelope, to_name=name,
                         to_email="zoe@example.org", message_id="<digest-1@example.org>",
                         date=NOW, unsubscribe_url="https://digest.example.org/unsubscribe/"
                                                   + "t" * 90)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    got = message_from_bytes(data, policy=policy.default)
    want = message_from_bytes(old_message(rendered, name, "zoe@example.org").as_bytes(),
                              policy=policy.default)
    assert isinstance(got, EmailMessage) and isinstance(want, EmailMessage)
    assert str(got["To"]) == str(want["To"])
    # The subject as written: email.message's own folding loses the space of "flow
    # matching" here (Python 3.11), which is why subjects are encoded as whole words now.
    assert str(got["Subject"]) == subject
    assert got["Message-ID"] == "<digest-1@example.org>"
    assert got["List-Unsubscribe"].startswith("<https://digest.example.org/unsubscribe/ttt")
    assert got.get_content_type() == "multipart/alternative"
    def parts(message: EmailMessage) -> list[tuple[str, str]]:
        return [(p.get_content_type(), p.get_content().replace("\r\n", "\n"))
                for p in message.iter_parts()]

    assert parts(got) == parts(want)
    assert parts(got)[0][1] == rendered.text


def test_messages_reach_the_server_as_they_are_without_aiosmtplib_normalising() -> None:
    """Sending skips aiosmtplib's rewrite of every line: the server still gets each
    message with CRLF line ends and its dotted lines intact, with SIZE, and a refused
    recipient resets the envelope on the same connection."""
    built = build_message(Rendered("Dots", ".a dotted line\n..two\nend\n", "<p>.x</p>\n"),
                          envelope=MAIL.envelope, to_name="Zoë", to_email="zoe@example.org",
                          message_id="<digest-2@example.org>", date=NOW,
                          unsubscribe_url="https://digest.example.org/unsubscribe/t")
    messages = [b".Subject: leading dot\r\n\r\n.line\r\n..two\r\nno final line end",
                b"Subject: bare\n\nlone LF\nlone CR\r.dotted after CR\n", built]
    want = [b".Subject: leading dot\r\n\r\n.line\r\n..two\r\nno final line end\r\n",
            b"Subject: bare\r\n\r\nlone LF\r\nlone CR\r\n.dotted after CR\r\n", built]

    async def send_all(port: int, refuse: SmtpServer) -> list[str]:
        connection = SmtpConnection(SmtpSettings("127.0.0.1", port, starttls="off", timeout=5))
        errors = []
        for i, data in enumerate(messages):
            if i == 1:
                refuse.handler.faults.append("rcpt:550 No such user")
                try:
                    await connection.send(data, "digest@example.org", "gone@example.org")
                except PermanentError as e:
                    errors.append(str(e))
            await connection.send(data, "digest@example.org", f"r{i}@example.org")
        await connection.close()
        return errors

    with SmtpServer() as server:
        errors = asyncio.run(send_all(server.port, server))
    assert [r.data for r in server.received] == want
    assert [r.recipients for r in server.received] == [[f"r{i}@example.org"] for i in range(3)]
    assert len(server.handler.sessions) == 1
    assert errors == [f"smtp://127.0.0.1:{server.port} refused the message: 550 No such user"]
    sizes = [o for options in server.handler.mail_options for o in options]
    assert len(sizes) == 4 and all(o.upper().startswith("SIZE=") for o in sizes)


def test_a_digest_goes_unencoded_and_seven_bit_to_a_server_without_8bitmime() -> None:
    """Text that is not ASCII goes as 8bit with BODY=8BITMIME, the HTML as 7bit with such
    characters as references; a server that does not offer 8BITMIME gets the same mail
    seven-bit clean (the text encoded, every header as it was). Both read back as the
    same text and the same HTML document. A part with a line too long to go unencoded is encoded."""
    from html import unescape

    rendered = Rendered("Zoë", "Weekly for Zoë ▲\nMüller et al.\n", "<p>Zoë &amp; ▲</p>\n")
    unsubscribe = "https://papers.example-university.org/digest/unsubscribe/" + "t" * 40
    built = build_message(rendered, envelope=MAIL.envelope, to_name="Zoë",
                          to_email="zoe@example.org", message_id="<digest-3@example.org>",
                          date=NOW, unsubscribe_url=unsubscribe)

    async def send_one(port: int) -> None:
        connection = SmtpConnection(SmtpSettings("127.0.0.1", port, starttls="off", timeout=5))
        await connection.send(built, "digest@example.org", "zoe@example.org")
        await connection.close()

    def read(data: bytes) -> list[tuple[str, str]]:
        parsed = message_from_bytes(data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return [(p["Content-Transfer-Encoding"], p.get_content().replace("\r\n", "\n"))
                for p in parsed.iter_parts()]

    with SmtpServer() as server:
        asyncio.run(send_one(server.port))
    ((options, got),) = zip(server.handler.mail_options, server.received, strict=True)
    assert "BODY=8BITMIME" in options and got.data == built
    (text_cte, text), (html_cte, html) = read(got.data)
    assert (text_cte, html_cte) == ("8bit", "7bit") and text == rendered.text
    assert html.isascii() and unescape(html) == unescape(rendered.html)
    with Scripted(eight_bit=False) as old:
        asyncio.run(send_one(old.server.server_address[1]))
    (seven,) = old.received
    assert seven.isascii() and b"BODY=" not in seven
    # every header as built: the URL a client unsubscribes with is not refolded
    assert seven.split(b"\r\n\r\n")[0] == built.split(b"\r\n\r\n")[0]
    assert f"List-Unsubscribe: <{unsubscribe}>".encode() in seven
    (text_cte, text), (html_cte, html) = read(seven)
    assert text_cte != "8bit" and text == rendered.text and unescape(html) == unescape(
        rendered.html)

    long = Rendered("Long", "x" * 999 + "\n", "<p>" + "é" * 200 + "</p>\n")  # 1,607 ASCII
    data = build_message(long, envelope=MAIL.envelope, to_name="", to_email="z@example.org",
                         message_id="<digest-4@example.org>", date=NOW,
                         unsubscribe_url="https://digest.example.org/u/t")
    assert [cte for cte, _ in read(data)] == ["quoted-printable", "base64"]
    assert [body for _, body in read(data)] == [long.text, long.html]


def test_a_list_name_that_is_not_ascii_leaves_the_list_id_plain() -> None:
    """List-Id with a name like "Pâpers ▲": the name as encoded words, the id in angle
    brackets as it is, so that a filter on the list's id still matches."""
    envelope = Envelope.parse("Digest <digest@example.org>", "Pâpers ▲ of the Lab")
    data = build_message(Rendered("Hi", "text\n", "<p>html</p>\n"), envelope=envelope,
                         to_name="", to_email="z@example.org",
                         message_id="<digest-5@example.org>", date=NOW,
                         unsubscribe_url="https://digest.example.org/u/t")
    head = data.split(b"\r\n\r\n")[0]
    (field,) = re.findall(rb"\r\nList-Id: (.*?)\r\n(?! )", head + b"\r\n", re.S)
    assert field.endswith(b"\r\n <digest.example.org>") and field.isascii()
    parsed = message_from_bytes(data, policy=policy.default)
    assert str(parsed["List-Id"]) == "Pâpers ▲ of the Lab <digest.example.org>"


def test_an_address_that_is_not_ascii_is_written_as_it_is() -> None:
    """A recipient like zoë@example.org (sent with SMTPUTF8): the To field holds the
    address in UTF-8 (RFC 6532), not encoded words, which no reader takes for an
    address; an ASCII address keeps its name in encoded words."""
    def to_field(name: str, address: str) -> tuple[bytes, str]:
        data = build_message(Rendered("Hi", "text\n", "<p>html</p>\n"), envelope=MAIL.envelope,
                             to_name=name, to_email=address,
                             message_id="<digest-6@example.org>", date=NOW,
                             unsubscribe_url="https://digest.example.org/u/t")
        (line,) = [h for h in data.split(b"\r\n") if h.startswith(b"To: ")]
        parsed = message_from_string(data.decode("utf-8"), policy=policy.default)
        return line, parsed["To"].addresses[0].addr_spec  # as a reader of UTF-8 mail sees it

    assert to_field("Zoë", "zoë-test@example.org") == (
        "To: Zoë <zoë-test@example.org>".encode(), "zoë-test@example.org")
    assert to_field("Zoë", "zoe@example.org") == (
        b"To: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>", "zoe@example.org")


def test_a_connection_in_steady_use_is_not_asked_whether_it_is_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Mails one after another go without a NOOP between them (a round trip a mail); a
    connection idle for longer than IDLE_CHECK_SECONDS is asked first."""
    from digest.deliver import transport

    async def send_some(port: int, count: int, connection: SmtpConnection) -> None:
        for i in range(count):
            await connection.send(b"Subject: hi\r\n\r\nhello\r\n", "digest@example.org",
                                  f"r{i}@example.org")

    with SmtpServer() as server:
        connection = SmtpConnection(SmtpSettings("127.0.0.1", server.port, starttls="off",
                                                 timeout=5))

        async def both() -> tuple[int, int]:
            await send_some(server.port, 5, connection)
            steady = server.handler.noops
            monkeypatch.setattr(transport, "IDLE_CHECK_SECONDS", 0.0)
            await send_some(server.port, 2, connection)
            await connection.close()
            return steady, server.handler.noops

        steady, idle = asyncio.run(both())
    assert len(server.received) == 7 and len(server.handler.sessions) == 1
    assert steady == 0
    assert idle == 2


def test_tokens_are_the_bytes_itsdangerous_makes() -> None:
    tokens = Tokens("a secret")
    rng = random.Random(1)
    targets = ["Ada Lovelace", "Zoë Ünal", "日本語の名前", "x" * 300, "a" * 60, "flow matching",
               'quote " and \\ backslash']
    for _ in range(300):
        ref = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=12))
        action = rng.choice(["follow", "unfollow", "mute", "unsubscribe", "manage"])
        args = (rng.choice(targets),) if action in ("follow", "unfollow", "mute") else ()
        made = tokens.make(action, ref, *args)
        assert made == tokens._signers[action].dumps([ref, *args])
        assert tokens.read(action, made) == [ref, *args]


def regex_highlights(text: str, keywords: tuple[str, ...]) -> list[tuple[str, bool]]:
    """Highlighting done another way: one IGNORECASE regex for the keywords, the words of
    a phrase apart by anything but letters and digits (as the matcher reads them); for
    ASCII text, where characters need no transliteration."""
    alternatives = []
    for keyword in keywords:
        tokens = words(keyword)
        if tokens:
            last = "|".join(sorted((re.escape(f) for f in plural_forms(tokens[-1])), key=len,
                                   reverse=True))
            head = "".join(re.escape(t) + r"[^A-Za-z0-9]+" for t in tokens[:-1])
            alternatives.append(f"{head}(?:{last})")
    if not alternatives:
        return [(text, False)] if text else []
    pattern = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(alternatives) +
                         r")(?![A-Za-z0-9])", re.IGNORECASE)
    out, at = [], 0
    for m in pattern.finditer(text):
        if m.start() > at:
            out.append((text[at:m.start()], False))
        out.append((m.group(), True))
        at = m.end()
    if at < len(text):
        out.append((text[at:], False))
    return out


def test_highlighting_marks_what_the_regex_marked() -> None:
    rng = random.Random(2)
    checked = 0
    for path in sorted((DATA / "hf-daily").glob("*.json")):
        for entry in json.loads(path.read_text()):
            paper = entry["paper"]
            text = snippet_text(paper.get("summary", ""), 300)
            if not text.replace("…", "").isascii():
                continue  # the property test in test_properties covers the rest
            found = words(text)
            picks = list(paper.get("ai_keywords") or [])[:3] + [
                " ".join(found[j:j + rng.randint(1, 3)])
                for j in rng.sample(range(max(1, len(found) - 3)), min(3, len(found)))]
            for keywords in [(k,) for k in picks] + [tuple(picks)]:
                got = [(s.text, s.highlight) for s in _highlighted(text, keywords)]
                assert got == regex_highlights(text, keywords), (text, keywords)
                checked += 1
    assert checked > 200


def test_two_paces_on_one_database_share_the_rate(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(f"sqlite:///{tmp_path / 'digest.db'}")
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    monkeypatch.setattr("time.time", lambda: 1000.0)
    first, second = Pace(store, 4.0), Pace(store, 4.0)  # two workers, 4 mails/s in all

    async def three() -> None:
        for pace in (first, second, first):
            await pace.wait()

    asyncio.run(three())
    assert waits == [0.25, 0.5]  # the first at once, then one every quarter second
    assert Pace(store, 0).rate == 0


def test_a_lease_has_one_holder_until_it_runs_out(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'digest.db'}")
    ttl = timedelta(minutes=10)
    assert store.take_lease("job:send", "a", NOW, ttl)
    assert not store.take_lease("job:send", "b", NOW + timedelta(minutes=9), ttl)
    assert store.take_lease("job:send", "a", NOW + timedelta(minutes=9), ttl)  # renewed
    assert not store.take_lease("job:send", "b", NOW + timedelta(minutes=18), ttl)
    assert store.take_lease("job:send", "b", NOW + timedelta(minutes=20), ttl)  # a died
    assert not store.take_lease("job:send", "a", NOW + timedelta(minutes=21), ttl)
    store.drop_lease("job:send", "a")  # not a's any more: nothing happens
    assert not store.take_lease("job:send", "a", NOW + timedelta(minutes=21), ttl)
    store.drop_lease("job:send", "b")
    assert store.take_lease("job:send", "a", NOW + timedelta(minutes=21), ttl)


def test_typed_reasons_round_trip_and_read_old_rows() -> None:
    for reason in (Reason.author("Ada"), Reason.keyword("flow matching", "abstract"),
                   Reason("trending")):
        assert Reason.decode(reason.encode()) == reason
        assert Reason.decode(str(reason)) == reason


def test_a_pass_collects_each_batch_cycles_and_freezes_what_lives_on() -> None:
    """During a pass the collector runs only after a batch: the cycles the batch left are
    collected, what lives on is frozen; at the end of the last pass all is as before."""
    import gc
    import weakref

    from digest import heap

    class Node:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the cyclic collector frees it

    assert gc.isenabled()
    with heap.pass_heap():
        with heap.pass_heap():  # a second pass at the same time
            assert not gc.isenabled()
        assert not gc.isenabled()  # still one pass running
        garbage = Node()
        gone = weakref.ref(garbage)
        del garbage
        kept = [Node() for _ in range(heap.SETTLE_OBJECTS)]  # a batch's worth of objects
        assert gone() is not None  # no collection by itself
        heap.settle()
        assert gone() is None
        assert gc.get_freeze_count() >= len(kept)
        small = Node()
        small_ref = weakref.ref(small)
        del small
        heap.settle()  # too few new objects to be worth a collection
        assert small_ref() is not None
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.collect()
    assert small_ref() is None


def test_collections_are_spaced_out_while_batches_leave_few_cycles() -> None:
    """A batch whose collection finds hardly any cycles doubles the batches until the next
    collection (those in between are only frozen); one that finds many brings a collection
    after every batch back."""
    import gc
    import weakref

    from digest import heap

    class Node:
        def __init__(self) -> None:
            self.me = self

    def batch(cycles: int = 0) -> weakref.ref[Node]:
        """A batch's worth of objects that live on, and one cycle left (or many)."""
        kept.append([[] for _ in range(heap.SETTLE_OBJECTS)])
        for _ in range(cycles):
            Node()
        left = weakref.ref(Node())
        heap.settle()
        return left

    kept: list[list[list[int]]] = []
    gc.collect()  # no garbage from before
    with heap.pass_heap():
        assert batch()() is None  # collected; it found few cycles: the next is skipped
        assert batch()() is not None  # frozen only
        assert batch()() is None  # collected; now two are skipped
        skipped = [batch(), batch()]
        assert all(ref() is not None for ref in skipped)
        assert batch(cycles=heap.SETTLE_OBJECTS)() is None  # many cycles ...
        assert batch()() is None  # ... so the next batch is collected again
    gc.collect()
    assert all(ref() is None for ref in skipped)  # freed once the pass is over


def test_the_card_caches_keep_what_is_used_within_their_size() -> None:
    from digest.render.kept import Lru as _Lru

    cache: _Lru[int, str] = _Lru(100)
    for i in range(1000):
        cache.put(i, str(i))
        assert cache.get(0) == "0"  # used all along: never forgotten
        assert len(cache) <= 100
    assert cache.get(999) == "999" and cache.get(500) is None  # long unused: forgotten
    assert sum(cache.get(i) is not None for i in range(1000)) >= 50  # about the last half


def test_a_card_shown_again_the_same_way_is_only_given_the_mail_token(
        seeded: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A renderer keeps every way a card is shown, filled in but for the token, as pieces
    shared with the paper's other cards: a second round of the same mails builds no card
    and renders no part, and two ways of showing one paper hold one copy of its frame."""
    import digest.render.fast as rendering

    tokens = Tokens("secret")
    renderer = Renderer()
    digests = [d for d in readers(seeded, 60) if d.subscriber.managed == "db"]
    first = [renderer.render(d, MAIL.links(tokens, d.subscriber)) for d in digests]
    built: list[object] = []
    real_card = rendering.cards.card

    def counted_card(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return real_card(*args, **kwargs)

    def no_part(template: Any, name: str, c: Any) -> str:
        raise AssertionError(f"the {name} part was rendered again")

    monkeypatch.setattr(rendering, "card", counted_card)
    monkeypatch.setattr(rendering._CardTemplate, "part", no_part)
    again = [renderer.render(d, MAIL.links(tokens, d.subscriber)) for d in digests]
    assert again == first and not built
    views: dict[int, list[Any]] = {}
    for key, shown in {**renderer._shown._old, **renderer._shown._new}.items():
        views.setdefault(key[0], []).extend(f[0].pieces for f in shown.pairs())
    one, other, *_ = next(v for v in views.values() if len(v) > 1)
    assert one != other and one[0] is other[0]  # the frame's start: table, votes, title


def test_the_cards_kept_hold_one_copy_of_each_piece(seeded: Store) -> None:
    """With part caches far smaller than the pass (as in a pass of 100,000), parts are
    rendered again after they are forgotten, but the cards kept still hold one copy of
    each piece (the text between links recurs on nearly every card), and still give
    the mails a renderer with room for everything gives."""
    tokens = Tokens("secret")
    small, roomy = Renderer(cards=8), Renderer()
    digests = [d for d in readers(seeded, 60) if d.subscriber.managed == "db"]
    for d in digests:
        links = MAIL.links(tokens, d.subscriber)
        assert small.render(d, links) == roomy.render(d, links)
    pieces = [piece for shown in {**small._shown._old, **small._shown._new}.values()
              for pair in shown.pairs() for filled in pair for piece in filled.pieces]
    assert len(pieces) > 3 * len(set(pieces))  # pieces recur ...
    assert len({id(p) for p in pieces}) == len(set(pieces))  # ... one copy each
