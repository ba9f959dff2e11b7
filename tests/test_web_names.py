"""Which person a followed name is, on the pages of ``digest serve`` (a subprocess, mail
caught by a real SMTP server): the "Possibly by" card links of a real mail (a GET changes
nothing, the POST teaches the pin ``papers:`` or ``not:``), what a subscriber the admin's
file manages is told, the subscribe confirmation asking "which Wei Wang?", and a name
followed on the pages pinned silently when the stored papers show one person."""

from __future__ import annotations

import html as markup
import re
from datetime import date
from typing import Any

from digest.deliver import MailSettings
from digest.deliver.message import Envelope
from digest.deliver.tokens import Tokens
from digest.model import Digest, Item, Paper, Reason, Section
from digest.render import render_digest
from digest.store import Store
from digest.vocab import SectionName
from tests.mailing import NOW
from tests.test_pins import two_wei_wangs
from tests.test_web import SECRET, Site, link, path, site, subscribe  # noqa: F401  (fixture)


def papers_with_ids(db_url: str, count: int = 2) -> list[Paper]:
    """Papers with arXiv ids and a name followed here, stored (their titles are what
    the pages show)."""
    papers = [Paper(f"Graph <Kernels> & “Speech” {n}", authors=(author, "Mia Wong"),
                    arxiv_id=f"2604.0123{n}", sources=("day.json",),
                    published=date(2026, 5, 30))
              for n, author in enumerate(("Hao Li", "Wei Wang"))][:count]
    Store(db_url).save_papers(papers, source="day.json", fmt="hf-json", now=NOW)
    return papers


def possibly_mail(pages: Site, email: str, names: tuple[str, ...], papers: list[Any]
                  ) -> tuple[str, str]:
    """The text and HTML of a mail to ``email`` whose "Possibly by" section asks about
    ``papers``, one for each of ``names``, with the links the server's secret signs."""
    sub = Store(pages.db_url).record(email=email).subscriber
    items = tuple(Item(p, (Reason.author(n, "as " + p.authors[0]),))
                  for n, p in zip(names, papers, strict=True))
    digest = Digest(sub, NOW, NOW, (Section(SectionName.POSSIBLY, items),))
    mail = MailSettings(Envelope.parse("Paper Digest <digest@example.org>", "Paper Digest"),
                        pages.base)
    rendered = render_digest(digest, mail.links(Tokens(SECRET), sub))
    return rendered.text, rendered.html


def links_of(text: str) -> list[tuple[str, str]]:
    """The (label, path) of each "Possibly by" link of a text part."""
    return [(label, path(url)) for label, url in
            re.findall(r"^ {3}(Yes, that's them|Not them): (http\S+)$", text, re.MULTILINE)]


def authors(pages: Site, email: str) -> list[Any]:
    return list(pages.record(email).prefs["authors"])


def test_possibly_links_ask_on_a_get_and_teach_the_pin_on_a_post(site: Site) -> None:  # noqa: F811
    store = Store(site.db_url)
    store.put_subscriber({"email": "yan@example.org",
                          "authors": ["Hao Li", {"name": "Wei Wang", "with": ["Lee Park"]}]},
                         NOW)
    first, second = papers_with_ids(site.db_url)
    text, html = possibly_mail(site, "yan@example.org", ("Hao Li", "Wei Wang"), [first, second])
    assert "== Possibly by authors you follow ==" in text
    assert f"Possibly by Hao Li (as {first.authors[0]})" in text
    (yes, no, yes_wei, no_wei) = links_of(text)
    assert [label for label, _ in (yes, no)] == ["Yes, that's them", "Not them"]
    for _, url in (yes, no, yes_wei, no_wei):  # the HTML part carries the same links
        assert f'href="{site.base}{url.replace("&", "&amp;")}"' in html
    assert yes[1].startswith("/y/") and no[1].startswith("/n/")
    assert yes[1].endswith(f"?t={first.arxiv_id}+Hao+Li")
    web = site.client()
    before = site.record("yan@example.org")

    # A GET (and a HEAD, as scanners send) asks and changes nothing.
    page = web.get(yes[1])
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert f"Is “{first.title}” (arXiv {first.arxiv_id}) by the Hao Li you follow?" in \
        markup.unescape(page.text)
    assert f'action="{yes[1]}"' in page.text and "Yes, that&#39;s them" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert web.head(no[1]).status_code == 200
    assert site.record("yan@example.org") == before

    # "Yes": the unpinned name gets a pin holding the paper.
    done = web.post(yes[1])
    assert done.status_code == 200 and "is by the Hao Li you follow" in done.text
    assert authors(site, "yan@example.org")[0] == {"name": "Hao Li", "papers": [first.arxiv_id]}
    # "Not them" on the same paper: the latest word wins.
    assert web.post(no[1]).status_code == 200
    assert authors(site, "yan@example.org")[0] == {"name": "Hao Li", "not": [first.arxiv_id]}
    # A pinned name keeps what its pin held.
    assert web.post(no_wei[1]).status_code == 200
    assert authors(site, "yan@example.org")[1] == {
        "name": "Wei Wang", "with": ["Lee Park"], "not": [second.arxiv_id]}
    assert web.post(yes_wei[1]).status_code == 200
    assert authors(site, "yan@example.org")[1] == {
        "name": "Wei Wang", "with": ["Lee Park"], "papers": [second.arxiv_id]}
    yan = site.record("yan@example.org").subscriber
    assert yan.authors == ("Hao Li", "Wei Wang") and yan.pin("Hao Li").not_ == (first.arxiv_id,)


def test_possibly_links_refuse_what_they_cannot_teach(site: Site) -> None:  # noqa: F811
    store = Store(site.db_url)
    store.put_subscriber({"email": "yan@example.org", "authors": ["Hao Li"]}, NOW)
    (paper,) = papers_with_ids(site.db_url, 1)
    ref = site.record("yan@example.org").ref
    card = Tokens(SECRET).make_card(ref)
    web = site.client()
    before = site.record("yan@example.org")
    for bad in (f"/y/{card}", f"/y/{card}?t=Hao+Li", f"/y/{card}?t=not-an-id+Hao+Li",
                f"/y/{card}?t={paper.arxiv_id}", f"/y/{card}?t={paper.arxiv_id}+",
                f"/y/{card}?t={paper.arxiv_id}+{'x' * 200}",
                f"/n/{Tokens('other').make_card(ref)}?t={paper.arxiv_id}+Hao+Li",
                f"/n/{Tokens(SECRET).make('manage', ref)}?t={paper.arxiv_id}+Hao+Li",
                f"/n/{Tokens(SECRET).make('follow', ref, paper.arxiv_id)}"):  # no t
        assert web.post(bad).status_code == 400, bad
        assert web.get(bad).status_code == 400, bad
    gone = web.post(f"/y/{card}?t={paper.arxiv_id}+Someone+Else")  # not followed
    assert gone.status_code == 400 and "do not follow Someone Else" in gone.text
    unknown = web.post(f"/y/{card}?t=9999.99999+Hao+Li")  # no such paper stored
    assert unknown.status_code == 400 and "not a paper" in unknown.text
    store.save_papers([Paper(title="Not his", authors=("Ada Park",), arxiv_id="2605.00001",
                             sources=("x.json",))], source="x.json", fmt="hf-json", now=NOW)
    assert web.post(f"/y/{card}?t=2605.00001+Hao+Li").status_code == 400  # no Hao Li on it
    assert site.record("yan@example.org") == before


def test_a_file_managed_subscriber_is_told_what_to_ask_the_admin(site: Site) -> None:  # noqa: F811
    """Their mails carry no card links (as for follow and unfollow); a link that reaches
    the page anyway changes nothing and says what to ask whoever runs the digest."""
    ada = site.record("ada@example.org")
    (paper,) = papers_with_ids(site.db_url, 1)
    text, html = possibly_mail(site, "ada@example.org", ("Maojiang Su",), [paper])
    assert "Possibly by Maojiang Su" in text and not links_of(text) and "/y/" not in html
    card = Tokens(SECRET).make_card(ada.ref)
    web = site.client()
    for method in (web.get, web.post):
        page = method(f"/y/{card}?t={paper.arxiv_id}+Maojiang+Su")
        assert page.status_code == 409 and "configuration file" in page.text
        assert f"add {paper.arxiv_id} to papers: of Maojiang Su" in page.text
    assert "to not: of Maojiang Su" in web.post(f"/n/{card}?t={paper.arxiv_id}+Maojiang+Su").text
    assert site.record("ada@example.org") == ada


def test_the_subscribe_confirmation_asks_which_person_a_name_is(site: Site) -> None:  # noqa: F811
    two_wei_wangs(site.db_url)
    web = site.client()
    subscribe(web, email="wen@example.org", authors="Wei Wang\nAda\nNobody Known")
    (confirmation,) = site.mails_to("wen@example.org")
    confirm = path(link(confirmation, "To confirm, open this link (it is valid for 48 hours)"))
    assert "Which Wei Wang?" not in web.get(confirm).text  # the GET only asks to confirm
    done = web.post(confirm)
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert "Which Wei Wang?" in done.text and "Which Ada?" not in done.text
    assert "3 papers with Tianyang Hu, Zhenguo Li (Huawei)" in done.text
    assert "<li>A3</li><li>A2</li>" in done.text  # two titles, the latest first
    assert "2 papers with Lee Park (Tencent)" in done.text
    manage = re.search(r'<form method="post" action="(/manage/[^"]+)" class="pin">', done.text)
    assert manage and f'<a href="{manage.group(1)}">Your preferences</a>' in done.text
    # Ada is one person in the store (two papers with Bo Chen): pinned when followed.
    assert authors(site, "wen@example.org") == [
        "Wei Wang", {"name": "Ada", "with": ["Bo Chen"]}, "Nobody Known"]
    keys = re.findall(r'name="which" value="([^"]+)"', done.text)
    chosen = web.post(manage.group(1), data={"do": "pin", "name": "Wei Wang", "which": keys[1]})
    assert chosen.status_code == 200 and "writes with Lee Park" in chosen.text
    assert authors(site, "wen@example.org")[0] == {"name": "Wei Wang", "with": ["Lee Park"]}


def test_a_name_followed_on_the_pages_is_pinned_when_it_is_one_person(site: Site) -> None:  # noqa: F811
    """The preferences form and a card's Follow link pin a new name the store shows as
    one person, leave one of several people (the page asks) or of none as written, and
    never touch a name followed before."""
    two_wei_wangs(site.db_url)
    store = Store(site.db_url)
    store.put_subscriber({"email": "bo@example.org", "authors": ["Tianyang Hu"]}, NOW)
    bo = site.record("bo@example.org")
    manage = f"/manage/{Tokens(SECRET).make('manage', bo.ref)}"
    web = site.client()
    saved = web.post(manage, data={
        "do": "save", "name": "", "authors": "Tianyang Hu\nWei Wang\nAda", "keywords": "",
        "exclude": "", "categories": "", "cadence": "daily", "day": "", "send_at": "08:00",
        "timezone": "UTC", "max_papers": "20", "trending": "on"})
    assert saved.status_code == 200 and "Which Wei Wang?" in saved.text
    assert authors(site, "bo@example.org") == [
        "Tianyang Hu", "Wei Wang", {"name": "Ada", "with": ["Bo Chen"]}]
    card = Tokens(SECRET).make_card(bo.ref)
    assert web.post(f"/u/{card}?t=Ada").status_code == 200
    followed = web.post(f"/f/{card}?t=Ada")
    assert followed.status_code == 200 and "You now follow Ada" in followed.text
    assert authors(site, "bo@example.org")[-1] == {"name": "Ada", "with": ["Bo Chen"]}
    assert web.post(f"/f/{card}?t=Lee+Park").status_code == 200  # on two papers, one group
    assert web.post(f"/f/{card}?t=Solo+Author").status_code == 200  # on one paper: no group
    assert authors(site, "bo@example.org")[-2:] == [
        {"name": "Lee Park", "with": ["Wei Wang"]}, "Solo Author"]
    # Several people: followed as written, and the page asks which.
    assert web.post(f"/u/{card}?t=Wei+Wang").status_code == 200
    again = web.post(f"/f/{card}?t=Wei+Wang")
    assert again.status_code == 200 and "You now follow Wei Wang" in again.text
    assert "Which Wei Wang?" in again.text and "2 papers with Lee Park (Tencent)" in again.text
    assert "Wei Wang" in authors(site, "bo@example.org")
    assert "Which Ada?" not in web.post(f"/f/{card}?t=Ada").text  # followed already


def test_candidates_carry_their_latest_titles(site: Site) -> None:  # noqa: F811
    two_wei_wangs(site.db_url)
    Store(site.db_url).put_subscriber({"email": "eve@example.org", "authors": ["Wei Wang"]},
                                      NOW)
    page = site.client().get(
        f"/manage/{Tokens(SECRET).make('manage', site.record('eve@example.org').ref)}").text
    # The papers' day is the same: the later stored comes first.
    assert "<li>A3</li><li>A2</li>" in page and "<li>B2</li><li>B1</li>" in page
