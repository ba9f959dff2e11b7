"""Every digest on the web, over a real SMTP server (aiosmtpd) and ``digest serve`` in a
subprocess: a digest sent in a pass says "View in browser", and that page shows its
papers; a digest with more matches than ``max_papers`` says "N more papers matched" and
its page lists them all; the feed linked from the mail's footer parses with feedparser;
a ``feed-only`` subscriber gets no mail but a feed and web copies; forged tokens get 404;
the preferences page lists past digests."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
import rispy
from pybtex.database import parse_string

from digest.deliver.tokens import Tokens
from digest.model import Subscriber
from digest.plan import build_digests, plan_due
from digest.store import Store
from digest.vocab import SectionName
from tests.browser import chromium, png_size, screenshot
from tests.conftest import ROOT
from tests.mailing import NOW, SUBSCRIPTIONS
from tests.serving import free_base, serving
from tests.smtpserver import SmtpServer
from tests.test_rank import ingest

SECRET = "web-digest-s3cret"
OUTPUT = ROOT / "tests" / "output"
# Ada follows an author, Grace a keyword that matches more papers than her two; Fern the
# same keyword, for her feed only.
READERS = SUBSCRIPTIONS.replace("    keywords: [diffusion]\n", """\
    keywords: [diffusion]
    max_papers: 2
  - email: fern@example.org
    name: Fern
    keywords: [diffusion]
    cadence: feed-only
""")


@dataclass
class Sent:
    base: str
    env: dict[str, str]
    smtp: SmtpServer
    db_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=20)

    def mail(self, email: str) -> EmailMessage:
        (found,) = [r.message for r in self.smtp.received if email in r.recipients]
        return found

    def store(self) -> Store:
        return Store(self.db_url)


@pytest.fixture
def sent(tmp_path: Path, run: Any, db_url: str, smtp: SmtpServer) -> Iterator[Sent]:
    """One pass sent to the three readers; ``digest serve`` on the same database."""
    config = tmp_path / "subscriptions.yaml"
    config.write_text(READERS)
    assert run("ingest", str(ROOT / "seeds"), "--now", (NOW - timedelta(hours=2)).isoformat()
               ).exit_code == 0
    port, base = free_base()
    env = {"DIGEST_CONFIG": str(config), "DIGEST_FROM": "Paper Digest <digest@example.org>",
           "DIGEST_DB": db_url, "DIGEST_SMTP_URL": smtp.url, "DIGEST_BASE_URL": base,
           "DIGEST_SECRET": SECRET, "DIGEST_NOW": NOW.isoformat(), "DIGEST_SMTP_TIMEOUT": "5",
           "DIGEST_ALLOW_LOCALHOST": "1"}
    done = run("send", "--now", NOW.isoformat(), env=env)
    assert done.exit_code == 0, done.output
    with serving(env, port):
        yield Sent(base, env, smtp, db_url)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def card_titles(page: str) -> list[str]:
    """The titles of a mail's (or web copy's) cards, as their links say them."""
    return [html.unescape(t) for t in re.findall(r'class="title"[^>]*>([^<]+)</a>', page)]


def view_url(message: EmailMessage) -> str:
    found = re.search(r"View in browser: (\S+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def test_a_sent_digest_links_its_web_copy_which_shows_the_same_papers(sent: Sent) -> None:
    mail = sent.mail("ada@example.org")
    url = view_url(mail)
    assert text_of(mail).startswith("View in browser: ")
    assert f'href="{url}"' in html_of(mail) and "View in browser</a>" in html_of(mail)
    assert re.fullmatch(rf"{re.escape(sent.base)}/d/[0-9a-f]{{46}}", url)
    titles = card_titles(html_of(mail))
    assert titles
    with sent.client() as web:
        page = web.get(path(url))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert card_titles(page.text) == titles
    assert "View in browser" not in page.text  # the copy does not link itself
    policy = page.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy and "default-src 'none'" in policy
    assert "<script" not in page.text.lower()
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    # the card links are the mail's: the preferences page, a follow link
    manage = re.search(r"Preferences: (\S+)", text_of(mail))
    assert manage and f'href="{manage.group(1)}"' in page.text


def test_a_digest_that_did_not_hold_every_match_says_so_and_its_copy_lists_them(
        sent: Sent, run: Any) -> None:
    """The mail says how many; the page lists them all, none twice."""
    mail = sent.mail("grace@example.org")
    text = text_of(mail)
    more = re.search(r"(\d+) more papers? matched: see them all at (\S+)", text)
    assert more, text
    count, url = int(more.group(1)), more.group(2)
    assert url == view_url(mail) + "#more"
    assert f"{count} more" in html_of(mail) and f'href="{url}"' in html_of(mail)
    assert len(card_titles(html_of(mail))) == 2  # her max_papers
    (row,) = [r for r in sent.store().outbox() if r.email == "grace@example.org"]
    (kept,) = sent.store().past_digests(row.ref, 5)
    assert kept.papers == 2 and kept.mailed
    with sent.client() as web:
        page = web.get(path(url)).text
    listed = re.search(r'<ol class="more-papers".*?</ol>', page, re.S)
    assert listed and listed.group(0).count("<li") == count
    assert 'id="more"' in page and "Matches “diffusion”" in listed.group(0)
    # after the last card, before the mail's footer ("You get this mail because ...")
    assert page.index('<ol class="more-papers"') < page.index("You get this mail because")
    more_titles = [html.unescape(t) for t in re.findall(
        r'font-weight: 700;">([^<]+)</a>', listed.group(0))]
    assert len(more_titles) == count and not set(card_titles(page)) & set(more_titles)
    # What did not fit is not counted as sent (nor is it sent later: only papers new
    # since this digest are due then, as before).
    assert run("send", "--now", (NOW + timedelta(days=1)).isoformat(),
               env=sent.env).exit_code == 0
    assert len([r for r in sent.smtp.received if "grace@example.org" in r.recipients]) == 1
    assert sent.store().past_digests(row.ref, 5)[0].papers == 2


def test_more_is_what_a_bigger_digest_would_have_held(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    ingest(store, ROOT / "seeds", now=NOW - timedelta(hours=2))
    small = Subscriber("g@example.org", keywords=("diffusion", "language model"),
                       authors=("Jiacheng Sun",), max_papers=3, trending=0, rising=0,
                       recommended=0, max_age_days=3650)
    (cut,) = build_digests(store, [small], NOW)
    (whole,) = build_digests(store, [replace(small, max_papers=200)], NOW)
    ids = [it.paper.id for it in whole.items if it not in (
        i for s in whole.sections if s.name == SectionName.POSSIBLY for i in s.items)]
    assert len(cut.items) == 3 and len(cut.more) > 3
    assert [it.paper.id for it in (*cut.items, *cut.more)] == ids
    assert [it.reasons for it in cut.more] == [it.reasons for it in whole.items[3:len(ids)]]


def test_the_feed_from_the_mail_footer_parses_and_holds_the_digest(sent: Sent) -> None:
    mail = sent.mail("grace@example.org")
    found = re.search(r"Your feed \(Atom\): (\S+)", text_of(mail))
    assert found and found.group(1).endswith(".atom")
    assert f'href="{found.group(1)}"' in html_of(mail)
    with sent.client() as web:
        answer = web.get(path(found.group(1)))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.id == found.group(1)
    assert any(link.rel == "self" and link.href == found.group(1) for link in feed.feed.links)
    titles = card_titles(html_of(mail))
    assert [e.title for e in feed.entries] == sorted(
        titles, key=lambda t: [e.title for e in feed.entries].index(t))
    assert {e.title for e in feed.entries} == set(titles)
    for entry in feed.entries:
        assert re.fullmatch(r"https://arxiv\.org/abs/\S+|tag:127\.0\.0\.1,2026:paper-\d+",
                            entry.id) and entry.link.startswith("https://arxiv.org/")
        assert entry.updated_parsed[:4] == NOW.timetuple()[:4]  # when it was sent
        assert entry.author and entry.authors[0].name
        assert "Matches “diffusion”" in entry.summary


def test_a_feed_only_reader_gets_no_mail_but_a_feed_and_web_copies(
        sent: Sent, run: Any) -> None:
    assert not [r for r in sent.smtp.received if "fern@example.org" in r.recipients]
    (row,) = [r for r in sent.store().outbox() if r.email == "fern@example.org"]
    assert row.state == "recorded" and row.sent_at is not None and row.attempts == 0
    status = run("status", env=sent.env)
    assert "recorded 1" in status.stdout and "sent 2" in status.stdout
    tokens = Tokens(SECRET)
    with sent.client() as web:
        feed = feedparser.parse(web.get(f"/feed/{tokens.make_bare('feed', row.ref)}.atom")
                                .content)
        assert not feed.bozo and feed.entries
        copy = web.get(f"/d/{tokens.make_view(row.ref, row.period)}")
        assert copy.status_code == 200
        assert card_titles(copy.text) == [e.title for e in feed.entries][::-1] or (
            set(card_titles(copy.text)) == {e.title for e in feed.entries})
    # Her papers count as sent: the next day's pass does not record them again, and
    # mails nobody new.
    again = run("send", "--now", (NOW + timedelta(days=1)).isoformat(), env=sent.env)
    assert again.exit_code == 0, again.output
    assert not [r for r in sent.smtp.received if "fern@example.org" in r.recipients]
    assert "Recorded (feed-only)" in again.output
    # and the bot's pass neither
    bot = run("run", "--once", "--now", (NOW + timedelta(days=2)).isoformat(), env=sent.env)
    assert bot.exit_code == 0, bot.output
    assert not [r for r in sent.smtp.received if "fern@example.org" in r.recipients]
    later = [r for r in sent.store().outbox() if r.email == "fern@example.org"]
    assert len(later) == 3 and {r.state for r in later[1:]} <= {"recorded", "skipped"}


def test_a_digest_s_citations_are_linked_from_its_web_copy(sent: Sent) -> None:
    mail = sent.mail("ada@example.org")
    titles = card_titles(html_of(mail))
    token = view_url(mail).rsplit("/", 1)[1]
    with sent.client() as web:
        page = web.get(f"/d/{token}").text
        assert f'href="/d/{token}.bib"' in page and f'href="/d/{token}.ris"' in page
        bib = web.get(f"/d/{token}.bib")
        ris = web.get(f"/d/{token}.ris")
        assert bib.status_code == ris.status_code == 200
        assert bib.headers["content-type"].startswith("application/x-bibtex")
        assert ris.headers["content-type"].startswith("application/x-research-info-systems")
        assert bib.headers["content-disposition"] == \
            'attachment; filename="digest-2026-06-01.bib"'
        entries = parse_string(bib.text, "bibtex").entries
        assert len(entries) == len(titles) and all(e.type == "misc" for e in entries.values())
        assert len(rispy.loads(ris.text)) == len(titles)
        assert {r["title"] for r in rispy.loads(ris.text)} == set(titles)
        forged = token[:-1] + ("0" if token[-1] != "0" else "1")
        assert web.get(f"/d/{forged}.bib").status_code == 404
        assert web.get(f"/d/{forged}.ris").status_code == 404


def test_forged_and_foreign_tokens_get_the_bad_link_page(sent: Sent) -> None:
    url = view_url(sent.mail("ada@example.org"))
    token = url.rsplit("/", 1)[1]
    (row,) = [r for r in sent.store().outbox() if r.email == "ada@example.org"]
    tokens = Tokens(SECRET)
    forged = [
        token[:-1] + ("0" if token[-1] != "0" else "1"),  # one character changed
        Tokens("another secret").make_view(row.ref, row.period),
        tokens.make_view(row.ref, row.period + timedelta(days=1)),  # no digest then
        tokens.make_bare("manage", row.ref),  # another action's
        tokens.make_mail("bounce", row.ref, row.period),
        "x" * 46, "", "a.b", "%00",
    ]
    with sent.client() as web:
        assert web.get(path(url)).status_code == 200
        assert web.get(path(url).upper().replace("/D/", "/d/")).status_code == 200  # hex
        for bad in forged:
            answer = web.get(f"/d/{bad}")
            assert answer.status_code == 404, bad
            if bad:
                assert "This link is not valid" in answer.text
        for bad in ("x", tokens.make_bare("manage", row.ref), token):
            assert web.get(f"/feed/{bad}.atom").status_code == 404
        assert web.post(path(url)).status_code == 400  # a card link's POST, without its target


def test_the_preferences_page_lists_past_digests(sent: Sent) -> None:
    mail = sent.mail("grace@example.org")
    manage = re.search(r"Preferences: (\S+)", text_of(mail))
    assert manage
    with sent.client() as web:
        page = web.get(path(manage.group(1))).text
        listed = re.findall(r'<li><a href="(/d/[0-9a-f]+)">([^<]+)</a>: (\d+) papers?</li>',
                            page)
        assert [(u, n) for u, _, n in listed] == [(path(view_url(mail)), "2")]
        assert listed[0][1].startswith("Mon 1 Jun 2026")
        feed = re.search(r'href="(/feed/[^"]+\.atom)"', page)
        assert feed and not feedparser.parse(web.get(feed.group(1)).content).bozo
        fern = Tokens(SECRET).make_bare("manage", next(
            r.ref for r in sent.store().outbox() if r.email == "fern@example.org"))
        assert "(not mailed)" in web.get(f"/manage/{fern}").text


@pytest.mark.slow
def test_the_web_copy_in_a_browser(sent: Sent) -> None:
    mail = sent.mail("grace@example.org")
    url = view_url(mail)
    dom = chromium(url, "--dump-dom", width=1024)
    assert card_titles(dom) == card_titles(html_of(mail))
    assert 'id="more"' in dom and "more-papers" in dom
    more = re.search(r"more papers? matched: see them all at (\S+)", text_of(mail))
    assert more and more.group(1).endswith("#more")  # the mail's "N more papers" link
    listed = chromium(more.group(1), "--dump-dom", width=375)
    assert listed.count("<li") >= 1 and 'id="more"' in listed
    for width in (375, 1024):
        out = OUTPUT / f"web-digest-{width}.png"
        out.unlink(missing_ok=True)
        screenshot(url, out, width)
        assert png_size(out)[0] == width
    dark = OUTPUT / "web-digest-1024-dark.png"
    screenshot(url, dark, 1024, flags=("--force-dark-mode",
                                       "--blink-settings=preferredColorScheme=0"))
    assert png_size(dark)[0] == 1024


def test_tokens_name_one_digest() -> None:
    tokens = Tokens("s")
    at = datetime(2026, 6, 1, 6, tzinfo=UTC)
    for ref in ("AbCdEfGhIjKl", "ref-of-another-shape"):
        token = tokens.make_view(ref, at)
        assert tokens.read_view(token) == (ref, at)
        assert token != tokens.make_view(ref, at + timedelta(seconds=1))
        assert tokens.read_view(token.swapcase() if token.isalnum() else token) == (ref, at)
        assert Tokens("t").read_view(token) is None
    assert tokens.read_view(tokens.make_mail("bounce", "AbCdEfGhIjKl", at) or "") is None


def test_what_the_pages_read_of_the_outbox(url: str) -> None:
    """Recorded plans, a digest's web copy, the past digests and the feed, on SQLite and
    PostgreSQL."""
    store = Store(url)
    ingest(store, ROOT / "seeds", now=NOW - timedelta(hours=2))
    fern = Subscriber("f@example.org", keywords=("diffusion",), cadence="feed-only",
                      timezone="Europe/Berlin", max_age_days=3650, max_papers=3)
    store.sync_subscribers([fern], NOW)
    plans, counts = plan_due(store, NOW)
    assert counts["recorded"] == 1 and store.claim(NOW, timedelta(minutes=10), 10) == []
    (row,) = store.outbox()
    found = store.delivered(row.ref, row.period.replace(microsecond=0))
    assert found is not None and found.sent_at == NOW
    assert found.shown == {it.paper.id for it in plans[0].digest.items} and found.shown
    assert [pid for pid, _ in found.entry.more] == [it.paper.id for it in plans[0].digest.more]
    assert store.delivered(row.ref, row.period + timedelta(seconds=1)) is None
    assert store.delivered("nobody", row.period) is None
    (past,) = store.past_digests(row.ref, 20)
    assert (past.papers, past.mailed, past.period) == (3, False, row.period)
    held = store.feed_papers(row.ref, 100)
    assert {f.paper_id for f in held} == found.shown and all(f.at == NOW for f in held)
    assert all(f.section == "keywords" and f.reasons for f in held)
    assert len(store.feed_papers(row.ref, 2)) == 2


def test_a_digest_planned_before_a_switch_to_feed_only_is_recorded_not_mailed(
        tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    ingest(store, ROOT / "seeds", now=NOW - timedelta(hours=2))
    sub = Subscriber("h@example.org", keywords=("diffusion",), cadence="daily",
                     timezone="Europe/Berlin", max_age_days=3650)
    store.sync_subscribers([sub], NOW)
    plans, counts = plan_due(store, NOW)
    assert counts["planned"] == 1
    store.sync_subscribers([replace(sub, cadence="feed-only")], NOW)
    assert store.claim(NOW, timedelta(minutes=10), 10) == []
    (row,) = store.outbox()
    assert row.state == "recorded" and row.sent_at == NOW
    assert store.past_digests(row.ref, 5)[0].papers == len(plans[0].digest.items) > 0


def test_the_web_copy_s_titles_open_each_paper_s_page_where_its_authors_can_be_followed(
        tmp_path: Path, run: Any, db_url: str, smtp: SmtpServer) -> None:
    """From the mail, "View in browser"; there a card's title opens the paper's own page
    for this reader (abstract, TL;DR, a Follow button per author), where the mail's title
    goes to arXiv."""
    now = datetime(2026, 4, 16, 9, tzinfo=UTC)
    assert run("ingest", str(ROOT / "tests" / "data" / "hf-daily" / "2026-04-16.json"),
               "--now", (now - timedelta(hours=2)).isoformat()).exit_code == 0
    assert run("subscribers", "add", "ivy@example.org", "--keyword", "GUI agents",
               "--keyword", "model", "--keyword", "agent",
               "--cadence", "daily", "--timezone", "UTC", "--now", now.isoformat()
               ).exit_code == 0
    store = Store(db_url)
    ivy = store.record(email="ivy@example.org")
    assert ivy is not None
    store.set_prefs(ivy.ref, {**ivy.prefs, "max_papers": 2}, now)  # the rest: "more"
    store.engine.dispose()
    port, base = free_base()
    env = {"DIGEST_DB": db_url, "DIGEST_SMTP_URL": smtp.url, "DIGEST_BASE_URL": base,
           "DIGEST_SECRET": SECRET, "DIGEST_NOW": now.isoformat(),
           "DIGEST_ALLOW_LOCALHOST": "1", "DIGEST_FROM": "Paper Digest <digest@example.org>"}
    assert run("send", "--now", now.isoformat(), env=env).exit_code == 0
    (got,) = [r.message for r in smtp.received if "ivy@example.org" in r.recipients]
    assert 'class="title" href="https://arxiv.org/abs/' in html_of(got)  # the mail: arXiv
    with serving(env, port), httpx.Client(base_url=base, timeout=20) as web:
        copy = web.get(path(view_url(got))).text
        pages = re.findall(r'class="title" href="(/p/[^"]+)"', copy)
        assert pages and len(pages) == len(card_titles(copy))
        listed = re.search(r'<ol class="more-papers".*?</ol>', copy, re.S)
        assert listed and '<a href="/p/' in listed.group(0)  # what did not fit, too
        paper = web.get(pages[0])
        assert paper.status_code == 200 and paper.headers["cache-control"] == "no-store"
        assert '<form method="post" action="/f/' in paper.text  # Follow, per author
        assert "TL;DR (Hugging Face AI summary)" in paper.text


def test_a_sender_claims_only_how_many_did_not_fit(url: str) -> None:
    """A mail counts what did not fit and its web copy lists it: the claim reads the
    count (``json_array_length``), not the papers, on SQLite and PostgreSQL alike."""
    store = Store(url)
    ingest(store, ROOT / "seeds", now=NOW - timedelta(hours=2))
    gil = Subscriber("g@example.org", keywords=("diffusion",), timezone="Europe/Berlin",
                     max_age_days=3650, max_papers=3)
    ben = Subscriber("b@example.org", authors=("Nobody At All",), timezone="Europe/Berlin",
                     max_age_days=3650, send_empty=True)
    store.sync_subscribers([gil, ben], NOW)
    plans, _ = plan_due(store, NOW)
    more = {p.digest.subscriber.email: len(p.digest.more) for p in plans}
    assert more["g@example.org"] > 0 and more["b@example.org"] == 0
    claimed = store.claim(NOW, timedelta(minutes=10), 10)
    assert {e.subscriber.email: e.more_count for e in claimed} == more
    assert all(e.more == () for e in claimed)
