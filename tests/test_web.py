"""The subscriber's own pages over HTTP against ``digest serve`` in a subprocess, with mail
caught by a real SMTP server: subscribe, confirm, manage, follow from the mail, and every
way an attacker or a mail scanner could try to change someone else's subscription."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.deliver.tokens import Tokens
from digest.model import Pin
from digest.store import Store
from tests.mailing import NOW
from tests.serving import free_base, serving
from tests.smtpserver import SmtpServer
from tests.test_pins import paper, two_wei_wangs

SECRET = "web-s3cret"


@dataclass
class Site:
    base: str
    env: dict[str, str]
    smtp: SmtpServer
    db_url: str

    def client(self, ip: str = "127.0.0.1") -> httpx.Client:
        # uvicorn believes X-Forwarded-For from loopback: each "ip" is another client.
        return httpx.Client(base_url=self.base, headers={"X-Forwarded-For": ip}, timeout=10)

    def mails_to(self, email: str, count: int = 1, wait: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + wait
        while True:
            found = [r.message for r in self.smtp.received if email in r.recipients]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def record(self, email: str) -> Any:
        return Store(self.db_url).record(email=email)


@pytest.fixture
def site(mail_env: dict[str, str], db_url: str, smtp: SmtpServer) -> Iterator[Site]:
    port, base = free_base()
    env = {**mail_env, "DIGEST_DB": db_url, "DIGEST_SMTP_URL": smtp.url,
           "DIGEST_BASE_URL": base, "DIGEST_SECRET": SECRET, "DIGEST_NOW": NOW.isoformat()}
    with serving(env, port):
        yield Site(base, env, smtp, db_url)


def form_token(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, page
    return m.group(1)


def subscribe(client: httpx.Client, **fields: str) -> httpx.Response:
    page = client.get("/")
    assert page.status_code == 200
    data = {"csrf": form_token(page.text), "name": "", "authors": "", "keywords": "",
            "cadence": "daily", "timezone": "Europe/Berlin", **fields}
    return client.post("/subscribe", data=data)


def link(message: EmailMessage, label: str) -> str:
    """A link from the text part: ``Label: URL`` or a bare URL after ``label``."""
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    m = re.search(re.escape(label) + r":?\s*\n?\s*(http\S+)", text)
    assert m, f"no {label!r} in:\n{text}"
    return m.group(1)


def path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_the_whole_flow(site: Site, run: Any) -> None:
    web = site.client()
    answer = subscribe(web, email="Carol@Example.org", name="Carol",
                       authors="Maojiang Su\n", keywords="diffusion transformer\n")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    (confirmation,) = site.mails_to("Carol@example.org")
    assert "Confirm your subscription" in confirmation["Subject"]
    assert site.record("carol@example.org").state == "pending"

    confirm = path(link(confirmation, "To confirm, open this link (it is valid for 48 hours)"))
    shown = web.get(confirm)
    assert shown.status_code == 200 and "Maojiang Su" in shown.text
    assert site.record("carol@example.org").state == "pending"  # a GET changes nothing
    done = web.post(confirm)
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert site.record("carol@example.org").state == "active"

    # The next pass plans and sends her first digest; its cards carry her links.
    sent = run("send", "--now", NOW.isoformat(), env=site.env)
    assert sent.exit_code == 0, sent.output
    digest = [m for m in site.mails_to("Carol@example.org", 2) if "Daily" in m["Subject"]]
    assert len(digest) == 1
    manage = path(link(digest[0], "Preferences"))
    unfollow = path(link(digest[0], "Unfollow Maojiang Su"))

    prefs = web.get(manage)
    assert prefs.status_code == 200 and "Carol@example.org" in prefs.text
    assert re.search(r'name="rising" value="on" checked', prefs.text)  # on by default
    saved = web.post(manage, data={
        "do": "save", "name": "Carol", "authors": "Maojiang Su\nJiacheng Sun",
        "keywords": "diffusion transformer", "exclude": "", "categories": "",
        "cadence": "weekly", "day": "friday", "send_at": "07:30",
        "timezone": "America/New_York", "max_papers": "10", "trending": "on"})
    assert saved.status_code == 200 and "Saved." in saved.text
    for typed in ("2604.14148", "https://arxiv.org/abs/2603.08708v2"):  # an id, a link
        added = web.post(manage, data={"do": "taste", "list": "likes", "paper-likes": typed})
        assert added.status_code == 200 and "Added " in added.text
    carol = site.record("carol@example.org").subscriber
    assert (carol.cadence, carol.day, carol.send_at, carol.timezone, carol.max_papers) == (
        "weekly", "friday", "07:30", "America/New_York", 10)
    assert carol.authors == ("Maojiang Su", "Jiacheng Sun")
    assert (carol.trending, carol.rising) == (5, 0)  # the rising box was left unchecked
    assert carol.likes == ("2604.14148", "2603.08708")
    refused = web.post(manage, data={"do": "taste", "list": "likes",
                                     "paper-likes": "not a paper"})
    assert refused.status_code == 400 and site.record("carol@example.org").subscriber == carol
    assert "Not saved: 1 problem below" in refused.text
    assert "No paper Paper Digest knows has that title" in refused.text
    # a paper moved to the other list leaves this one (the latest word wins)
    moved = web.post(manage, data={"do": "taste", "list": "dislikes",
                                   "paper-dislikes": "2603.08708v2"})
    assert moved.status_code == 200
    carol = site.record("carol@example.org").subscriber
    assert carol.dislikes == ("2603.08708",) and carol.likes == ("2604.14148",)
    shown = web.get(manage).text  # each listed, with a button that takes it out
    assert 'name="do" value="untaste"' in shown and 'value="2603.08708"' in shown
    gone = web.post(manage, data={"do": "untaste", "list": "dislikes", "paper": "2603.08708"})
    assert gone.status_code == 200 and "Removed." in gone.text
    carol = site.record("carol@example.org").subscriber
    assert carol.dislikes == () and carol.likes == ("2604.14148",)
    preview = run("preview", "carol@example.org", "--now", NOW.isoformat(), env=site.env)
    assert preview.exit_code == 0 and "Weekly Papers for Carol" in preview.stdout
    assert "Jiacheng Sun" in preview.stdout  # his papers are in now

    assert web.get(unfollow).status_code == 200
    assert "Maojiang Su" in site.record("carol@example.org").subscriber.authors
    assert "You no longer follow" in web.post(unfollow).text
    assert site.record("carol@example.org").subscriber.authors == ("Jiacheng Sun",)

    assert "Paused" in web.post(manage, data={"do": "pause"}).text
    assert site.record("carol@example.org").state == "paused"
    later = (NOW + timedelta(days=8)).isoformat()
    assert run("send", "--now", later, env=site.env).exit_code == 0
    assert len(site.mails_to("Carol@example.org", 3, wait=0.5)) == 2  # nothing while paused
    assert "Resumed" in web.post(manage, data={"do": "resume"}).text
    assert "Unsubscribed" in web.post(manage, data={"do": "unsubscribe"}).text
    assert site.record("carol@example.org").state == "unsubscribed"
    assert run("send", "--now", (NOW + timedelta(days=16)).isoformat(),
               env=site.env).exit_code == 0
    assert len(site.mails_to("Carol@example.org", 3, wait=0.5)) == 2
    listing = run("subscribers", env=site.env).stdout
    assert re.search(r"Carol@example.org\s+Carol\s+unsubscribed\s+database", listing)


def first_digest(site: Site, run: Any, email: str, **follows: str) -> tuple[Any, Any]:
    """A subscriber who subscribes on the page, confirms and gets one pass's digest: a
    client for them, and that mail."""
    web = site.client()
    subscribe(web, email=email, **follows)
    (confirmation,) = site.mails_to(email)
    web.post(path(link(confirmation, "To confirm, open this link (it is valid for 48 hours)")))
    assert run("send", "--now", NOW.isoformat(), env=site.env).exit_code == 0
    return web, site.mails_to(email, 2)[1]


def test_tab_titles_read_as_written(site: Site, run: Any) -> None:
    """Each page's <title> says what its heading says, capitalised as written (it said
    'subscribe', 'confirm', 'preferences'), names as given."""
    web, digest = first_digest(site, run, "dan@example.org", authors="Yi-Cheng Lin",
                               keywords="diffusion")
    pages = {"/": "Subscribe", path(link(digest, "Preferences")): "Your preferences"}
    follow = re.search(r"Follow ([^:\n]+): (http\S+)", digest.get_body(("plain",)).get_content())
    assert follow
    pages[path(follow.group(2))] = f"Follow {follow.group(1)}?"
    for url, title in pages.items():
        page = web.get(url)
        assert page.status_code == 200, url
        assert f"<title>Paper Digest: {title}</title>" in page.text, (url, title)


def test_follow_and_mute_from_card_links(site: Site, run: Any) -> None:
    web, digest = first_digest(site, run, "dan@example.org", keywords="diffusion")
    follow = re.search(r"Follow ([^:\n]+): (http\S+)", digest.get_body(("plain",)).get_content())
    assert follow
    name = follow.group(1)
    mute = path(link(digest, "Mute “diffusion”"))
    assert web.post(path(follow.group(2))).status_code == 200
    assert web.post(mute).status_code == 200
    dan = site.record("dan@example.org").subscriber
    assert dan.authors == (name,) and dan.keywords == ()


def test_card_links_of_a_mail_share_one_token_and_older_links_still_work(
        site: Site, run: Any) -> None:
    web, mail = first_digest(site, run, "eve@example.org", authors="Maojiang Su",
                             keywords="diffusion")
    text = mail.get_body(("plain",)).get_content()
    actions = re.findall(r"https?://[^/\s]+/([fum])/([\w.-]+)\?t=(\S+)", text)
    assert len(actions) >= 3 and {kind for kind, _, _ in actions} >= {"u", "m"}
    (card,) = {token for _, token, _ in actions}  # one token for every card link
    eve = site.record("eve@example.org")
    tokens = Tokens(SECRET)
    assert card == tokens.make_card(eve.ref) == f"{eve.ref}.{card.split('.')[1]}"  # bare
    assert tokens.read("card", card) == [eve.ref] and tokens.read("manage", card) is None

    shown = web.get(f"/f/{card}?t=Jiacheng+Sun")
    assert shown.status_code == 200 and 'action="/f/' in shown.text
    assert "?t=Jiacheng+Sun" in shown.text and "Follow Jiacheng Sun?" in shown.text
    assert site.record("eve@example.org") == eve  # a GET changes nothing
    assert "You now follow Jiacheng Sun" in web.post(f"/f/{card}?t=Jiacheng+Sun").text
    assert site.record("eve@example.org").subscriber.authors == ("Maojiang Su", "Jiacheng Sun")

    for bad in (f"/f/{card}", f"/f/{card}?t=", f"/f/{card}?t=%20", f"/f/{card}?t={'x' * 201}",
                f"/f/{tokens.make('manage', eve.ref)}?t=X",  # not a card token
                f"/f/{tokens.make('follow', eve.ref, 'X')}?t=X",  # an older token, plus t
                f"/f/{card[:-2]}xx?t=X", f"/f/{Tokens('other').make('card', eve.ref)}?t=X",
                f"/f/{Tokens('other').make_card(eve.ref)}?t=X",
                f"/f/{'x' if card[0] != 'x' else 'y'}{card[1:]}?t=X"):  # another ref
        assert web.post(bad).status_code == 400, bad
    # Links in mails sent before cards shared a token, or had a bare one, still act.
    older = tokens.make("card", eve.ref)
    assert older != card and tokens.read("card", older) == [eve.ref]
    assert web.post(f"/u/{older}?t=Jiacheng+Sun").status_code == 200
    assert web.post(f"/m/{tokens.make('mute', eve.ref, 'diffusion')}").status_code == 200
    after = site.record("eve@example.org").subscriber
    assert after.authors == ("Maojiang Su",) and after.keywords == ()


def test_a_mails_manage_and_unsubscribe_links_are_bare_and_older_ones_still_work(
        site: Site, run: Any) -> None:
    web, mail = first_digest(site, run, "eve@example.org", authors="Maojiang Su")
    text = mail.get_body(("plain",)).get_content()
    manage = re.search(r"Preferences: https?://[^/\s]+/manage/(\S+)", text).group(1)
    unsubscribe = re.search(r"Unsubscribe: https?://[^/\s]+/unsubscribe/(\S+)", text).group(1)
    assert f"/unsubscribe/{unsubscribe}>" in mail["List-Unsubscribe"]
    eve = site.record("eve@example.org")
    tokens, other = Tokens(SECRET), Tokens("another secret")
    for action, token in (("manage", manage), ("unsubscribe", unsubscribe)):
        assert token == tokens.make_bare(action, eve.ref) == f"{eve.ref}.{token[-16:]}"
        assert tokens.read(action, token) == [eve.ref]
        assert tokens.read(action, tokens.make(action, eve.ref)) == [eve.ref]  # older mails
        for wrong in ("card", "manage", "unsubscribe", "follow"):
            if wrong != action:  # each action signs with a key of its own
                assert tokens.read(wrong, token) is None, (action, wrong)
        assert other.read(action, token) is None
        assert tokens.read(action, token[:-2] + ("xx" if token[-2:] != "xx" else "yy")) is None
    assert tokens.make_bare("manage", "not a ref!") == tokens.make("manage", "not a ref!")
    # The links act: the bare manage link shows Eve's page, the older one too; the bare
    # unsubscribe link unsubscribes her.
    assert "eve@example.org" in web.get(f"/manage/{manage}").text
    assert "eve@example.org" in web.get(f"/manage/{tokens.make('manage', eve.ref)}").text
    assert web.post(f"/manage/{unsubscribe}", data={"do": "unsubscribe"}).status_code == 400
    assert web.post(f"/unsubscribe/{unsubscribe}").status_code == 200
    assert site.record("eve@example.org").state == "unsubscribed"


def test_unconfirmed_get_nothing(site: Site, run: Any) -> None:
    subscribe(site.client(), email="eve@example.org", authors="Maojiang Su")
    assert len(site.mails_to("eve@example.org")) == 1
    assert run("send", "--now", NOW.isoformat(), env=site.env).exit_code == 0
    assert len(site.mails_to("eve@example.org", 2, wait=0.5)) == 1  # the confirmation only
    assert site.record("eve@example.org").state == "pending"


def test_known_and_unknown_addresses_get_the_same_answer(site: Site) -> None:
    web = site.client()
    known = subscribe(web, email="ada@example.org", authors="Someone Else")
    unknown = subscribe(web, email="zoe@example.org", authors="Someone Else")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("ada@", "X@") == unknown.text.replace("zoe@", "X@")
    assert set(known.headers) == set(unknown.headers)
    # Ada is told she is subscribed already, with her preferences link; nothing changed.
    (ada,) = site.mails_to("ada@example.org")
    assert "You are subscribed" in ada["Subject"]
    assert "/manage/" in link(ada, "pause or stop the digest")
    assert site.record("ada@example.org").subscriber.authors == ("Maojiang Su",)


def test_confirmation_mails_per_address_are_capped(site: Site) -> None:
    for i in range(6):
        answer = subscribe(site.client(f"10.0.0.{i}"), email="fay@example.org")
        assert answer.status_code == 200 and "Check your inbox" in answer.text
    time.sleep(1)
    assert len(site.mails_to("fay@example.org", 6, wait=1)) == 3


def test_clients_are_rate_limited(site: Site) -> None:
    web = site.client("10.1.1.1")
    codes = [subscribe(web, email=f"g{i}@example.org").status_code for i in range(12)]
    assert codes[:10] == [200] * 10 and codes[10:] == [429, 429]
    limited = subscribe(web, email="g@example.org")
    assert limited.headers["Retry-After"].isdigit()
    assert subscribe(site.client("10.1.1.2"), email="h@example.org").status_code == 200


def test_form_errors_keep_what_was_typed(site: Site) -> None:
    answer = subscribe(site.client(), email="ivy@example.org", authors="Maojiang Su",
                       timezone="Europe/Berln")
    assert answer.status_code == 400
    assert "did you mean &#39;Europe/Berlin&#39;?" in answer.text
    assert "Maojiang Su" in answer.text and 'value="ivy@example.org"' in answer.text
    bad = subscribe(site.client(), email="not an address")
    assert bad.status_code == 400 and "invalid email" in bad.text
    assert site.record("ivy@example.org") is None
    assert site.smtp.received == []


def test_a_post_without_the_form_token_is_refused(site: Site) -> None:
    web = site.client()
    page = web.get("/")
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    data = {"email": "jo@example.org", "cadence": "daily", "timezone": "UTC"}
    assert web.post("/subscribe", data=data).status_code == 400  # no token
    other = httpx.post(f"{site.base}/subscribe", data={**data, "csrf": form_token(page.text)})
    assert other.status_code == 400  # the token, but not the cookie it belongs to
    forged = Tokens("guess").make("form", web.cookies["digest_csrf"])
    assert web.post("/subscribe", data={**data, "csrf": forged}).status_code == 400
    assert site.record("jo@example.org") is None and site.smtp.received == []


def test_bad_expired_and_foreign_tokens_change_nothing(site: Site) -> None:
    web = site.client()
    subscribe(web, email="kim@example.org", authors="Maojiang Su")
    subscribe(web, email="lee@example.org", authors="Maojiang Su")
    kim, lee = site.record("kim@example.org"), site.record("lee@example.org")
    tokens = Tokens(SECRET)
    expired = tokens.make_confirm(kim.ref, NOW - timedelta(hours=49))
    fresh = tokens.make_confirm(kim.ref, NOW - timedelta(hours=47))
    tampered = fresh[:-1] + ("A" if fresh[-1] != "A" else "B")
    for token in (expired, tampered, "x", Tokens("another secret").make_confirm(kim.ref, NOW),
                  tokens.make("manage", kim.ref)):  # the wrong action, too
        assert web.get(f"/confirm/{token}").status_code == 400
        assert web.post(f"/confirm/{token}").status_code == 400
    assert site.record("kim@example.org").state == "pending"
    assert web.post(f"/confirm/{fresh}").status_code == 200
    assert site.record("kim@example.org").state == "active"
    assert site.record("lee@example.org").state == "pending"  # Kim's token is Kim's only

    manage = tokens.make("manage", kim.ref)
    for token in (tokens.make("unsubscribe", kim.ref), manage[:-2] + "xx",
                  Tokens("changed secret").make("manage", kim.ref),
                  tokens.make("manage", "no-such-ref")):
        assert web.post(f"/manage/{token}", data={"do": "unsubscribe"}).status_code == 400
        assert web.post(f"/u/{token}").status_code == 400
    assert site.record("kim@example.org").state == "active"
    page = web.get(f"/manage/{manage}")
    assert "kim@example.org" in page.text and "lee@example.org" not in page.text
    assert site.record("lee@example.org").subscriber == lee.subscriber


def test_gets_change_nothing(site: Site) -> None:
    web = site.client()
    subscribe(web, email="max@example.org", authors="Maojiang Su", keywords="diffusion")
    ref = site.record("max@example.org").ref
    tokens = Tokens(SECRET)
    web.post(f"/confirm/{tokens.make_confirm(ref, NOW)}")
    before = site.record("max@example.org")
    for url in (f"/manage/{tokens.make('manage', ref)}",
                f"/unsubscribe/{tokens.make('unsubscribe', ref)}",
                f"/f/{tokens.make('follow', ref, 'Jiacheng Sun')}",
                f"/u/{tokens.make('unfollow', ref, 'Maojiang Su')}",
                f"/m/{tokens.make('mute', ref, 'diffusion')}"):
        page = web.get(url)
        assert page.status_code == 200 and '<form method="post"' in page.text
        # Link checkers and mail scanners send HEAD: answered as GET, changing nothing.
        head = web.head(url)
        assert head.status_code == 200 and head.content == b"", (url, head.status_code)
    assert site.record("max@example.org") == before


def test_file_managed_subscribers_may_pause_and_leave_but_not_edit(site: Site) -> None:
    web = site.client()
    ref = site.record("ada@example.org").ref
    manage = f"/manage/{Tokens(SECRET).make('manage', ref)}"
    page = web.get(manage)
    assert "configuration file" in page.text and 'name="authors"' not in page.text
    refused = web.post(manage, data={"do": "save", "authors": "Someone"})
    assert refused.status_code == 409
    assert web.post(f"/f/{Tokens(SECRET).make('follow', ref, 'X Y')}").status_code == 409
    assert site.record("ada@example.org").subscriber.authors == ("Maojiang Su",)
    assert "Paused" in web.post(manage, data={"do": "pause"}).text
    assert site.record("ada@example.org").state == "paused"


def test_every_response_carries_the_security_headers(site: Site) -> None:
    web = site.client()
    for response in (web.get("/"), web.get("/nowhere"), web.put("/subscribe"),
                     web.get("/manage/bad"), web.post("/subscribe")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert web.get("/nowhere").status_code == 404
    not_allowed = web.put("/subscribe")
    assert not_allowed.status_code == 405 and "POST" in not_allowed.headers["allow"]


def test_admin_commands_validate_and_round_trip(run: Any, mail_env: dict[str, str],
                                                 tmp_path: Path, db_url: str) -> None:
    bad = run("subscribers", "add", "nina@example.org", "--timezone", "Europe/Berln",
              env=mail_env)
    assert bad.exit_code == 1
    assert "subscriber nina@example.org: timezone: unknown time zone 'Europe/Berln'; did " \
        "you mean 'Europe/Berlin'?" in bad.stderr
    taken = run("subscribers", "add", "ada@example.org", env=mail_env)
    assert taken.exit_code == 1 and "managed by subscriptions.yaml" in taken.stderr
    added = run("subscribers", "add", "nina@example.org", "--author", "Maojiang Su",
                "--keyword", "flow matching", "--cadence", "weekly", env=mail_env)
    assert added.exit_code == 0 and "added" in added.stdout
    run("subscribers", "add", "otto@example.org", "--author", "Jiacheng Sun", env=mail_env)
    run("unsubscribe", "otto@example.org", env=mail_env)
    for fmt in ("yaml", "json"):
        exported = run("subscribers", "export", "--format", fmt, env=mail_env).stdout
        assert "ada@example.org" not in exported  # the file's own are not exported
        path = tmp_path / f"list.{fmt}"
        path.write_text(exported)
        again = run("subscribers", "import", str(path), env=mail_env)
        assert again.exit_code == 0 and "2 unchanged" in again.stdout
        assert run("subscribers", "export", "--format", fmt, env=mail_env).stdout == exported
    assert "state: unsubscribed" in run("subscribers", "export", env=mail_env).stdout

    hostile = tmp_path / "bad.yaml"
    hostile.write_text("subscribers:\n  - email: pia@example.org\n    cadence: hourly\n"
                       "  - email: ada@example.org\n")
    refused = run("subscribers", "import", str(hostile), env=mail_env)
    assert refused.exit_code == 1
    assert f"{hostile}:3: subscriber pia@example.org: cadence:" in refused.stderr
    hostile.write_text("subscribers:\n  - email: pia@example.org\n  - email: ada@example.org\n")
    refused = run("subscribers", "import", str(hostile), env=mail_env)
    assert refused.exit_code == 1 and "nothing imported" in refused.stderr
    assert "ada@example.org" in refused.stderr
    assert Store(db_url).record(email="pia@example.org") is None


def test_the_form_never_changes_an_unsubscribed_persons_settings(site: Site) -> None:
    web = site.client()
    subscribe(web, email="quinn@example.org", authors="Maojiang Su")
    (mail,) = site.mails_to("quinn@example.org")
    web.post(path(link(mail, "To confirm, open this link (it is valid for 48 hours)")))
    ref = site.record("quinn@example.org").ref
    manage = f"/manage/{Tokens(SECRET).make('manage', ref)}"
    web.post(manage, data={"do": "unsubscribe"})
    subscribe(site.client("10.9.9.9"), email="quinn@example.org", authors="Attacker Chosen")
    quinn = site.record("quinn@example.org")
    assert quinn.state == "unsubscribed" and quinn.subscriber.authors == ("Maojiang Su",)
    assert "Subscribed again" in web.post(manage, data={"do": "resubscribe"}).text
    assert site.record("quinn@example.org").state == "active"


CONFIRM_LABEL = "To confirm, open this link (it is valid for 48 hours)"


def test_a_confirmation_link_is_spent_by_an_unsubscribe(site: Site, run: Any) -> None:
    web = site.client()
    subscribe(web, email="sam@example.org", authors="Maojiang Su")
    (first,) = site.mails_to("sam@example.org")
    confirm = path(link(first, CONFIRM_LABEL))
    assert web.post(confirm).status_code == 200
    manage = f"/manage/{Tokens(SECRET).make('manage', site.record('sam@example.org').ref)}"
    assert "Unsubscribed." in web.post(manage, data={"do": "unsubscribe"}).text
    for replay in (web.get, web.post):  # within its 48 hours, used once already
        answer = replay(confirm)
        assert answer.status_code == 400 and "This link was used already" in answer.text
    assert site.record("sam@example.org").state == "unsubscribed"
    # A fresh action brings the address back: the form mails a new link, which works ...
    subscribe(site.client("10.1.1.1"), email="sam@example.org")
    again = path(link(site.mails_to("sam@example.org", 2)[1], CONFIRM_LABEL))
    assert web.get(again).status_code == 200
    assert "You are subscribed" in web.post(again).text
    assert site.record("sam@example.org").state == "active"
    # ... once: after the next unsubscribe, it is spent as well.
    later = (NOW + timedelta(hours=1)).isoformat()
    assert run("unsubscribe", "sam@example.org", "--now", later, env=site.env).exit_code == 0
    assert web.post(again).status_code == 400 and web.post(confirm).status_code == 400
    assert site.record("sam@example.org").state == "unsubscribed"


def test_hostile_preferences_are_refused_cleanly(site: Site) -> None:
    web = site.client()
    subscribe(web, email="rae@example.org", authors="Maojiang Su")
    ref = site.record("rae@example.org").ref
    tokens = Tokens(SECRET)
    web.post(f"/confirm/{tokens.make_confirm(ref, NOW)}")
    manage = f"/manage/{tokens.make('manage', ref)}"
    base = {"do": "save", "cadence": "daily", "send_at": "08:00", "day": "monday",
            "timezone": "UTC", "max_papers": "20"}
    for bad in ({"max_papers": "²"}, {"name": "\x1b[31mred"}, {"authors": "A\x00B"},
                {"name": "x" * 5000}, {"cadence": "hourly"}):
        answer = web.post(manage, data={**base, **bad})
        assert answer.status_code == 400, bad
        assert answer.headers["x-frame-options"] == "DENY"
        assert 'class="error"' in answer.text, bad
    assert site.record("rae@example.org").subscriber.authors == ("Maojiang Su",)
    odd = web.post(manage, data={**base, "send_at": "7:5"})
    assert odd.status_code == 400 and "write it as HH:MM, e.g. 07:30" in odd.text
    quoted = web.post(manage, data={**base, "send_at": '"07:30"'})  # as YAML would want it
    assert quoted.status_code == 200
    assert site.record("rae@example.org").subscriber.send_at == "07:30"
    instant = web.post(manage, data={**base, "cadence": "instant", "authors": "Maojiang Su"})
    assert instant.status_code == 200 and 'value="instant" selected' in instant.text
    empty = tokens.make("follow", ref, " ")
    assert web.post(f"/f/{empty}").status_code == 400
    assert web.get("/subscribe/").status_code == 404  # no redirect built from the Host


def test_hostile_import_files(run: Any, mail_env: dict[str, str], tmp_path: Path) -> None:
    cases = {
        "deep.yaml": "subscribers: " + "[" * 30000,
        "deep.json": '{"subscribers": ' + "[" * 1000 + "]" * 1000 + "}",
        "digits.yaml": "subscribers:\n  - email: a@example.org\n    max_papers: " + "9" * 5001,
        "escape.yaml": 'subscribers:\n  - email: b@example.org\n    name: "\\e[31mred"\n',
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        result = run("subscribers", "import", str(path), env=mail_env)
        assert result.exit_code == 1, name
        assert result.stderr.startswith(f"Error: {path}"), result.stderr
        assert "Traceback" not in result.stderr
    assert "nothing imported" not in run("subscribers", "export", env=mail_env).stderr
    assert run("subscribers", "export", env=mail_env).stdout == "subscribers: []\n"


def test_a_server_error_still_carries_the_security_headers(db_url: str) -> None:
    from starlette.testclient import TestClient

    from digest.deliver import MailSettings
    from digest.deliver.message import Envelope
    from digest.deliver.transport import MaildirTransport
    from digest.web import create_app

    class Broken(Store):
        def record(self, *, ref: str | None = None, email: str | None = None) -> Any:
            raise RuntimeError("the database went away")

    mail = MailSettings(Envelope.parse("D <d@example.org>", "Paper Digest"))
    app = create_app(Broken(db_url), Tokens(SECRET), lambda: NOW, mail,
                     MaildirTransport(Path(db_url.removeprefix("sqlite:///")).parent / "m"))
    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get(f"/manage/{Tokens(SECRET).make('manage', 'someone')}")
    assert answer.status_code == 500 and "Something went wrong" in answer.text
    assert "went away" not in answer.text  # no internals shown
    assert answer.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in answer.headers["content-security-policy"]


def test_json_imports_take_the_fast_path_and_still_report_lines(
        run: Any, mail_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text('{"subscribers": [\n {"email": "s@example.org"},\n'
                    ' {"email": "t@example.org", "cadence": "hourly"}\n]}\n')
    bad = run("subscribers", "import", str(path), env=mail_env)
    assert bad.exit_code == 1 and f"{path}:3: subscriber t@example.org: cadence:" in bad.stderr
    path.write_text('{"subscribers": [{"email": "s@example.org", "email": "u@example.org"}]}')
    twice = run("subscribers", "import", str(path), env=mail_env)
    assert twice.exit_code == 1 and "duplicate key 'email'" in twice.stderr
    path.write_text('{"subscribers": [{"email": "s@example.org", "authors": ["A B"]}]}')
    assert "1 added" in run("subscribers", "import", str(path), env=mail_env).stdout


def test_the_preferences_page_offers_the_people_behind_an_ambiguous_name(site: Site) -> None:
    store = Store(site.db_url)
    two_wei_wangs(site.db_url)
    store.put_subscriber({"email": "eve@example.org", "authors": ["Wei Wang", "Ada"]}, NOW)
    eve = site.record("eve@example.org")
    manage = f"/manage/{Tokens(SECRET).make('manage', eve.ref)}"
    web = site.client()
    page = web.get(manage).text
    assert "Which Wei Wang?" in page and "Which Ada?" not in page
    assert "3 papers with Tianyang Hu, Zhenguo Li (Huawei)" in page
    assert "2 papers with Lee Park (Tencent)" in page
    keys = re.findall(r'name="which" value="([^"]+)"', page)
    assert len(keys) == 2
    assert web.post(manage, data={"do": "pin", "name": "Wei Wang", "which": "1"}
                    ).status_code == 400  # a place in the list names nobody
    # Papers ingested since the page was shown put a new person first: the choice still
    # names the person the reader clicked, never whoever is second now.
    store.save_papers([paper(f"K{i}", "Wei Wang", "Kim Min", org="Kakao") for i in range(4)],
                      source="later.json", fmt="hf-json", now=NOW)
    done = web.post(manage, data={"do": "pin", "name": "Wei Wang", "which": keys[1]})
    assert done.status_code == 200 and "You now follow the Wei Wang who writes with Lee Park" \
        in done.text and "Which Wei Wang?" not in done.text
    assert "<li>Wei Wang: with Lee Park</li>" in done.text  # who they follow now
    after = site.record("eve@example.org")
    assert after.subscriber.pins == (Pin("Wei Wang", with_=("Lee Park",)),)
    assert after.subscriber.authors == ("Wei Wang", "Ada")
    saved = web.post(manage, data={  # saving the form keeps the pin of a name still listed
        "do": "save", "name": "", "authors": "Wei Wang\nAda\nBo", "keywords": "",
        "exclude": "", "categories": "", "cadence": "daily", "day": "", "send_at": "08:00",
        "timezone": "UTC", "max_papers": "20", "trending": "on"})
    assert saved.status_code == 200, saved.text
    assert site.record("eve@example.org").prefs["authors"] == [
        {"name": "Wei Wang", "with": ["Lee Park"]}, "Ada", "Bo"]


def test_the_access_log_holds_no_tokens(site: Site, tmp_path: Path) -> None:
    """A link's token acts as its subscriber: uvicorn's access log shows the path with
    the token blanked."""
    ada = site.record("ada@example.org")
    tokens = Tokens(SECRET)
    manage, card = tokens.make("manage", ada.ref), tokens.make_card(ada.ref)
    log = tmp_path / "serve.log"
    with serving(site.env, log=log) as base:
        assert httpx.get(f"{base}/manage/{manage}").status_code == 200
        httpx.get(f"{base}/l/{card}?t=2604.07429")
        httpx.get(f"{base}//MANAGE/{manage}")  # no such page: logged without it too
    text = log.read_text()
    assert '"GET /manage/… HTTP/1.1" 200' in text and '"GET /l/…?t=2604.07429' in text
    assert '"GET //MANAGE/… HTTP/1.1" 404' in text
    assert manage not in text and card not in text and ada.ref not in text


def test_a_sample_mails_links_say_what_they_are(site: Site, run: Any) -> None:
    """`digest test-mail` links to the pages with placeholders for tokens: each page says
    it is a sample's link instead of answering 400 'not valid'."""
    result = run("test-mail", "me@example.org", env=site.env)
    assert result.exit_code == 0, result.output
    (mail,) = site.mails_to("me@example.org")
    html = mail.get_body(("html",)).get_content()
    ours = sorted({u for u in re.findall(r'href="([^"]+)"', html) if u.startswith(site.base)})
    assert any("/manage/" in u for u in ours) and any("/unsubscribe/" in u for u in ours)
    web = site.client()
    for url in ours:
        page = web.get(path(url).replace("&amp;", "&"))
        assert page.status_code == 200, (url, page.status_code)
        assert "A link of a sample mail" in page.text


def test_a_feed_only_subscriber_is_shown_their_feed_when_they_confirm(site: Site) -> None:
    """No mail will carry their links: the confirmation says where the digests are."""
    web = site.client()
    answer = subscribe(web, email="fay@example.org", keywords="diffusion\n", cadence="feed-only")
    assert answer.status_code == 200, answer.text
    (confirmation,) = site.mails_to("fay@example.org")
    done = web.post(path(link(confirmation,
                              "To confirm, open this link (it is valid for 48 hours)")))
    assert done.status_code == 200 and "no mail is sent" in done.text
    feed = re.search(r'<a href="(/feed/[^"]+\.atom)">Your private Atom feed</a>', done.text)
    assert feed, done.text
    atom = web.get(feed.group(1))
    assert atom.status_code == 200 and "<feed" in atom.text
