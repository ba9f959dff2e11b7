"""Team channels (issue 36): a pass posts each digest to its subscriber's channels once,
through the outbox, against local HTTP servers that record every request; each body is
checked against the service's documented payload schema (written down below from the
services' documentation) and limits. Neither ntfy nor a Matrix homeserver is packaged
for this Debian (``apt-cache policy ntfy matrix-synapse``: no candidate), so those two
are checked against the recording server too."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.deliver.channels import deliver_channels
from digest.deliver.tokens import Tokens
from digest.plan import plan_due
from digest.render import chat
from digest.settings import HttpSettings
from digest.store import Store
from tests.conftest import ROOT, SEEDS
from tests.hookserver import Hit, HookServer
from tests.mailing import NOW, SUBSCRIPTIONS, mail_env, send, smtp  # noqa: F401 (fixtures)
from tests.pgserver import PgCluster, wipe
from tests.smtpserver import SmtpServer
from tests.test_web import SECRET as WEB_SECRET
from tests.test_web import Site, site  # noqa: F401 (a fixture)
from tests.test_workers import prepared

SECRET = "s3cret"
WEBHOOK_TOKEN = "hook-token-7f3a"
MATRIX_TOKEN = "syt_matrix_token_91c2"

# ---- the services' payloads, as their documentation has them -----------------------------

_TEXT = {"type": "object", "required": ["type", "text"],
         "properties": {"type": {"enum": ["plain_text", "mrkdwn"]}, "text": {"type": "string"}}}
# Slack Block Kit (docs.slack.dev/reference/block-kit/blocks): at most 50 blocks; a header's
# plain_text at most 150 characters; a section's text at most 3,000; a context at most 10
# elements. Incoming webhooks take "text" (the fallback) and "blocks".
SLACK = {
    "type": "object", "required": ["text"],
    "properties": {
        "text": {"type": "string", "maxLength": 40000},
        "blocks": {"type": "array", "maxItems": 50, "items": {"oneOf": [
            {"type": "object", "required": ["type", "text"], "properties": {
                "type": {"const": "header"}, "text": {**_TEXT, "properties": {
                    "type": {"const": "plain_text"},
                    "text": {"type": "string", "minLength": 1, "maxLength": 150}}}}},
            {"type": "object", "required": ["type", "text"], "properties": {
                "type": {"const": "section"}, "text": {**_TEXT, "properties": {
                    "type": {"enum": ["plain_text", "mrkdwn"]},
                    "text": {"type": "string", "minLength": 1, "maxLength": 3000}}}}},
            {"type": "object", "required": ["type", "elements"], "properties": {
                "type": {"const": "context"},
                "elements": {"type": "array", "minItems": 1, "maxItems": 10, "items": _TEXT}}},
        ]}},
    },
    "additionalProperties": False,
}
# Discord "Execute Webhook" and "Embed Limits": content at most 2,000 characters; at most 10
# embeds; an embed's title 256, description 4,096 (and all embeds' text 6,000, checked
# below).
DISCORD = {
    "type": "object", "anyOf": [{"required": ["content"]}, {"required": ["embeds"]}],
    "properties": {
        "content": {"type": "string", "maxLength": 2000},
        "embeds": {"type": "array", "maxItems": 10, "items": {
            "type": "object", "properties": {
                "title": {"type": "string", "maxLength": 256},
                "description": {"type": "string", "maxLength": 4096},
                "url": {"type": "string", "pattern": "^https?://"}},
            "additionalProperties": False}},
        "allowed_mentions": {"type": "object", "properties": {
            "parse": {"type": "array", "items": {"enum": ["roles", "users", "everyone"]}}}},
    },
    "additionalProperties": False,
}
# Matrix client-server API, m.room.message with msgtype m.text (spec v1.x, "m.text").
MATRIX = {
    "type": "object", "required": ["msgtype", "body"],
    "properties": {"msgtype": {"const": "m.text"}, "body": {"type": "string"},
                   "format": {"const": "org.matrix.custom.html"},
                   "formatted_body": {"type": "string"}},
    "dependentRequired": {"format": ["formatted_body"]},
    "additionalProperties": False,
}
# ntfy "Publish as JSON" (docs.ntfy.sh/publish): topic required; the fields it documents.
NTFY = {
    "type": "object", "required": ["topic"],
    "properties": {"topic": {"type": "string", "pattern": "^[-_A-Za-z0-9]{1,64}$"},
                   "message": {"type": "string"}, "title": {"type": "string"},
                   "tags": {"type": "array", "items": {"type": "string"}},
                   "priority": {"enum": [1, 2, 3, 4, 5]}, "click": {"type": "string"},
                   "markdown": {"type": "boolean"}, "icon": {"type": "string"}},
    "additionalProperties": False,
}


def webhook_schema() -> dict[str, Any]:
    """Our webhook's schema, as docs/channels.md publishes it."""
    text = (ROOT / "docs" / "channels.md").read_text()
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block
    schema: dict[str, Any] = json.loads(block[1])
    return schema


def check(schema: dict[str, Any], body: Any) -> None:
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())


def check_discord(body: Any) -> None:
    check(DISCORD, body)
    assert sum(len(e.get("title", "")) + len(e.get("description", ""))
               for e in body["embeds"]) <= 6000


# ---- a pass against the hooks ------------------------------------------------------------

def subscriptions(hooks: str) -> str:
    """SUBSCRIPTIONS' two mail readers (Grace also to Slack) and three channel-only ones."""
    # send_empty: a digest every day, new papers or not (a second day has none)
    return SUBSCRIPTIONS.replace("defaults:\n", "defaults:\n  send_empty: true\n") + f"""\
    channels:
      - kind: slack
        url: {hooks}/slack
  - email: discord@example.org
    keywords: [diffusion]
    mail: false
    channels:
      - kind: discord
        url: {hooks}/discord
  - email: hook@example.org
    keywords: [diffusion]
    mail: false
    channels:
      - kind: webhook
        url: {hooks}/webhook
        token: {WEBHOOK_TOKEN}
  - email: rooms@example.org
    keywords: [diffusion]
    mail: false
    channels:
      - kind: matrix
        url: {hooks}/matrix
        room: "!papers:example.org"
        token: {MATRIX_TOKEN}
      - kind: ntfy
        url: {hooks}/ntfy/lab-papers
"""


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    with HookServer() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, run: Any, hooks: HookServer) -> dict[str, str]:
    config = tmp_path / "subscriptions.yaml"
    config.write_text(subscriptions(hooks.url))
    assert run("ingest", str(SEEDS), "--now", (NOW - timedelta(hours=2)).isoformat()
               ).exit_code == 0
    return {"DIGEST_CONFIG": str(config), "DIGEST_FROM": "Paper Digest <digest@example.org>",
            "DIGEST_BASE_URL": "https://digest.example.org", "DIGEST_SECRET": SECRET,
            "DIGEST_SMTP_TIMEOUT": "1", "DIGEST_HTTP_TIMEOUT": "5"}


def test_one_pass_mails_and_posts_each_digest_once(run: Any, env: dict[str, str],
                                                    hooks: HookServer, db_url: str) -> None:
    with SmtpServer() as sink:
        first = send(run, env, sink.url)
        assert first.exit_code == 0, first.output
        assert "Channels: sent 5" in first.stdout
        assert sorted(r.recipients[0] for r in sink.received) == [
            "ada@example.org", "grace@example.org"]  # the channel-only ones get no mail
        assert sorted(h.path for h in hooks.hits) == [
            "/discord", "/matrix/_matrix/client/v3/rooms/%21papers%3Aexample.org/send/"
            "m.room.message/" + _txn(hooks.to("/matrix")[0]), "/ntfy/", "/slack", "/webhook"]
        again = send(run, env, sink.url)  # the same moment: nothing more anywhere
        assert again.exit_code == 0 and "Channels:" not in again.stdout
        assert len(sink.received) == 2 and len(hooks.hits) == 5
    slack, discord, webhook = (hooks.to(p)[0] for p in ("/slack", "/discord", "/webhook"))
    check(SLACK, slack.json())
    check_discord(discord.json())
    body = webhook.json()
    check(webhook_schema(), body)
    assert body["subscriber"] == "hook@example.org" and body["papers"]
    assert all(p["url"].startswith("https://") for p in body["papers"])
    expected = hmac.new(WEBHOOK_TOKEN.encode(), webhook.body, hashlib.sha256).hexdigest()
    assert webhook.headers["X-Digest-Signature-256"] == f"sha256={expected}"
    assert webhook.headers["Authorization"] == f"Bearer {WEBHOOK_TOKEN}"
    assert "Authorization" not in slack.headers and "Authorization" not in discord.headers
    store = Store(db_url)
    assert store.channel_counts() == {"sent": 5}
    # the channel-only digests are recorded: on the web, in the feed, never mailed
    assert store.outbox_counts() == {"sent": 2, "recorded": 3}
    # each message links the digest's web copy, which the pages serve
    web = body["web_url"]
    assert re.fullmatch(r"https://digest\.example\.org/d/[0-9a-f]{46}", web), web
    for hit in (slack, discord):  # another subscriber's digests: another copy each
        assert re.search(r"https://digest\.example\.org/d/[0-9a-f]{46}", hit.body.decode())


def _txn(hit: Hit) -> str:
    return hit.path.rsplit("/", 1)[1]


def test_matrix_and_ntfy_requests(run: Any, env: dict[str, str], hooks: HookServer) -> None:
    matrix_path = "/matrix/_matrix/client/v3/rooms/%21papers%3Aexample.org/send/m.room.message/"
    with SmtpServer() as sink:
        assert send(run, env, sink.url).exit_code == 0
    matrix, = hooks.to("/matrix")
    assert matrix.method == "PUT" and matrix.path.startswith(matrix_path)
    assert matrix.headers["Authorization"] == f"Bearer {MATRIX_TOKEN}"
    body = matrix.json()
    check(MATRIX, body)
    assert "<ol><li><a href=\"https://" in body["formatted_body"]
    assert "<script" not in body["formatted_body"]
    ntfy, = hooks.to("/ntfy")
    assert ntfy.method == "POST" and ntfy.path == "/ntfy/"  # JSON publish: the root
    note = ntfy.json()
    check(NTFY, note)
    assert note["topic"] == "lab-papers" and note["title"].startswith("Daily Papers: ")
    assert len(note["message"].encode()) <= 4096 and note["click"].startswith("https://")
    assert "Authorization" not in ntfy.headers  # no token given: none sent


def test_a_500_is_retried_with_the_same_matrix_transaction(run: Any, env: dict[str, str],
                                                           hooks: HookServer,
                                                           db_url: str) -> None:
    hooks.answer("/slack", (500, {}))
    hooks.answer("/matrix", (502, {}))
    with SmtpServer() as sink:
        # 3, as for mail: done, but some messages wait for a retry (cron sees it)
        assert send(run, env, sink.url).exit_code == 3
        store = Store(db_url)
        assert store.channel_counts() == {"sent": 3, "retry": 2}
        status = run("status", env=env)
        assert re.search(r"grace@example.org \(slack 127\.0\.0\.1:\d+\), 2026-06-01 06:00: "
                         r"retry after 1 tries: the hook answered 500", status.stdout), \
            status.stdout
        assert send(run, env, sink.url, NOW + timedelta(minutes=1)).exit_code == 0
        assert len(hooks.to("/slack")) == 1  # the back-off: five minutes
        assert send(run, env, sink.url, NOW + timedelta(minutes=6)).exit_code == 0
        assert len(sink.received) == 2  # the mail went once, whatever the hooks said
    assert len(hooks.to("/slack")) == 2
    first, second = hooks.to("/matrix")
    assert first.path == second.path  # the same txnId: the homeserver posts it once
    assert store.channel_counts() == {"sent": 5}


def test_a_429_waits_for_its_retry_after(run: Any, env: dict[str, str], hooks: HookServer,
                                         db_url: str) -> None:
    hooks.answer("/discord", (429, {"Retry-After": "3600"}))
    with SmtpServer() as sink:
        assert send(run, env, sink.url).exit_code == 3  # one waits for its retry
        assert send(run, env, sink.url, NOW + timedelta(minutes=30)).exit_code == 0
        assert len(hooks.to("/discord")) == 1  # longer than the back-off: an hour
        assert send(run, env, sink.url, NOW + timedelta(minutes=61)).exit_code == 0
    assert len(hooks.to("/discord")) == 2
    assert Store(db_url).channel_counts() == {"sent": 5}


def test_a_410_suppresses_that_channel_only(run: Any, env: dict[str, str], hooks: HookServer,
                                            db_url: str) -> None:
    hooks.answer("/discord", (410, {}))
    with SmtpServer() as sink:
        assert send(run, env, sink.url).exit_code == 0
        store = Store(db_url)
        assert store.channel_counts() == {"sent": 4, "suppressed": 1}
        listing = run("subscribers", env=env)
        assert re.search(r"discord@example.org: discord 127\.0\.0\.1:\d+ \(since 2026-06-01\)"
                         r": the hook answered 410", listing.stdout), listing.stdout
        status = json.loads(run("status", "--json", env=env).stdout)
        assert status["channels"]["suppressed"] == 1
        assert status["channel_problems"][0]["status"] == 410
        # The next day: a new digest for everyone; nothing to the gone channel.
        assert send(run, env, sink.url, NOW + timedelta(days=1)).exit_code == 0
        assert len(sink.received) == 4
    assert len(hooks.to("/discord")) == 1
    assert len(hooks.to("/slack")) == 2 and len(hooks.to("/webhook")) == 2
    assert store.channel_counts() == {"sent": 8, "suppressed": 2}
    for name in ("status", "subscribers"):  # no token, no hook path, anywhere
        out = run(name, env=env).stdout + run(name, "--json", env=env).stdout
        assert WEBHOOK_TOKEN not in out and MATRIX_TOKEN not in out and "/discord" not in out


def test_reset_tries_a_suppressed_channel_again(run: Any, env: dict[str, str],
                                                hooks: HookServer) -> None:
    hooks.answer("/discord", (404, {}))
    with SmtpServer() as sink:
        assert send(run, env, sink.url).exit_code == 0
        reset = run("subscribers", "reset", "discord@example.org", env=env)
        assert "1 suppressed channel tried again" in reset.stdout, reset.output
        assert send(run, env, sink.url, NOW + timedelta(days=1)).exit_code == 0
    assert len(hooks.to("/discord")) == 2


def test_check_names_the_line_and_keeps_tokens_secret(run: Any, tmp_path: Path) -> None:
    bad = tmp_path / "subscriptions.yaml"
    bad.write_text(f"""\
subscribers:
  - email: lab@example.org
    channels:
      - kind: matrix
        url: https://matrix.example.org
        token: {MATRIX_TOKEN}
      - kind: irc
        url: https://irc.example.org
      - kind: slack
        url: http://hooks.example.org/services/T0/B0/{WEBHOOK_TOKEN}
""")
    result = run("check", str(bad))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: {bad}:4: subscriber lab@example.org: channels: a matrix channel needs room:",
        f"{bad}:7: subscriber lab@example.org: channels: unknown channel kind 'irc'; use "
        "'slack', 'discord', 'matrix', 'ntfy' or 'webhook'",
        f"{bad}:10: subscriber lab@example.org: channels: use https:// (plain http only to "
        "this machine: localhost, 127.0.0.1, [::1])"]
    assert MATRIX_TOKEN not in result.output and WEBHOOK_TOKEN not in result.output


def test_the_pages_never_show_channels_and_saving_keeps_them(site: Site) -> None:  # noqa: F811
    hook = "https://hooks.slack.com/services/T0/B0/SECRETPATH"
    Store(site.db_url).put_subscriber({
        "email": "lab@example.org", "keywords": ["diffusion"], "mail": False,
        "channels": [{"kind": "slack", "url": hook}]}, NOW)
    lab = site.record("lab@example.org")
    manage = f"/manage/{Tokens(WEB_SECRET).make('manage', lab.ref)}"
    web = site.client()
    page = web.get(manage).text
    assert "SECRETPATH" not in page and "hooks.slack.com" not in page
    saved = web.post(manage, data={
        "do": "save", "name": "Lab", "authors": "",
        "keywords": "flow matching", "exclude": "", "categories": "", "cadence": "daily",
        "day": "", "send_at": "08:00", "timezone": "UTC", "max_papers": "20"})
    assert saved.status_code == 200, saved.text
    assert "SECRETPATH" not in saved.text
    after = site.record("lab@example.org")
    assert after.prefs["keywords"] == ["flow matching"]  # the save took
    assert after.prefs["channels"] == [{"kind": "slack", "url": hook}]
    assert after.subscriber.channels[0].url == hook and after.subscriber.mail is False


# ---- several workers on one PostgreSQL ---------------------------------------------------

@pytest.mark.slow
def test_two_workers_on_postgresql_post_each_message_once(cluster: PgCluster, tmp_path: Path,
                                                          hooks: HookServer) -> None:
    wipe(cluster.url)
    count = 60
    env = prepared(cluster.url, tmp_path, 0)
    people = tmp_path / "labs.json"
    people.write_text(json.dumps({"subscribers": [
        {"email": f"lab{i}@example.org", "keywords": ["diffusion"], "cadence": "daily",
         "send_at": "08:00", "send_empty": True, "mail": False,
         "channels": [{"kind": "webhook", "url": f"{hooks.url}/hook/{i}"}]}
        for i in range(count)]}))
    imported = CliRunner().invoke(cli, ["subscribers", "import", str(people)], env=env)
    assert imported.exit_code == 0, imported.output
    store = Store(cluster.url)
    _, counts = plan_due(store, NOW)
    assert counts["recorded"] == count  # not mailed: kept at once, its messages to go
    hooks.delay = 0.005  # each answer takes a moment: the workers' claims interleave

    async def two() -> list[dict[str, int]]:
        runs = [deliver_channels(Store(cluster.url), HttpSettings(), Tokens(SECRET).webhook_key,
                                 lambda: NOW, timedelta(minutes=10), batch=5)
                for _ in range(2)]
        return [dict(c) for c in await asyncio.gather(*runs)]

    done = asyncio.run(two())
    assert sorted(h.path for h in hooks.hits) == sorted(f"/hook/{i}" for i in range(count))
    assert all(c.get("sent") for c in done), done  # both took a share
    assert sum(c["sent"] for c in done) == count
    assert store.channel_counts() == {"sent": count}
    wipe(cluster.url)


def test_the_example_in_the_docs_is_valid(run: Any, tmp_path: Path) -> None:
    text = (ROOT / "docs" / "channels.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block
    path = tmp_path / "subscriptions.yaml"
    path.write_text(block[1])
    result = run("check", str(path))
    assert result.exit_code == 0, result.output
    sub, = load_config(path).subscribers
    assert [c.kind for c in sub.channels] == ["slack", "discord", "matrix", "ntfy", "webhook"]
    assert not sub.mail


def test_a_message_found_after_the_grace_is_not_posted_late(run: Any, env: dict[str, str],
                                                           hooks: HookServer,
                                                           db_url: str) -> None:
    hooks.answer("/webhook", (503, {}))
    with SmtpServer() as sink:
        assert send(run, env, sink.url).exit_code == 3
        # grace_hours defaults to 24: the retry's time has come, but too late; the next
        # day's digest goes
        assert send(run, env, sink.url, NOW + timedelta(hours=25)).exit_code == 3  # failed
    first, second = hooks.to("/webhook")
    assert first.headers["X-Digest-Delivery"] != second.headers["X-Digest-Delivery"]
    failed, = [r for r in Store(db_url).channel_sends() if r.state == "failed"]
    assert failed.email == "hook@example.org" and "grace_hours" in (failed.last_error or "")


# ---- the payloads at their limits ----------------------------------------------------------

def _long_message(papers: int) -> chat.ChatMessage:
    """Titles and reasons far past every service's limits, with each service's special
    characters in them."""
    title = "A <b>bold</b> & |piped| title @everyone " * 40
    return chat.ChatMessage(
        "Daily Papers: Monday 1 Jun 2026 " * 10, "lab@example.org", NOW.isoformat(),
        tuple(chat.ChatPaper(f"2606.{i:05d}", title, f"https://arxiv.org/abs/2606.{i:05d}",
                             ("Ada Lovelace",), "Matches “diffusion” " * 100)
              for i in range(papers)), 37, "https://digest.example.org/d/abc")


@pytest.mark.parametrize("papers", [0, 1, 10])
def test_every_payload_keeps_its_service_limits(papers: int) -> None:
    m = _long_message(papers)
    slack = chat.slack(m)
    check(SLACK, slack)
    assert "<b>" not in json.dumps(slack)
    assert "&lt;b&gt;" in json.dumps(slack) or not papers
    check_discord(chat.discord(m))
    assert chat.discord(m)["allowed_mentions"] == {"parse": []}  # @everyone pings nobody
    matrix = chat.matrix(m)
    check(MATRIX, matrix)
    assert "<b>" not in matrix["formatted_body"]
    note = chat.ntfy(m, "lab-papers")
    check(NTFY, note)
    assert len(note["message"].encode()) <= 4096
    check(webhook_schema(), chat.webhook(m))
    assert "37 more papers" in m.plain() and "https://digest.example.org/d/abc" in m.plain()


def test_a_slack_link_label_cannot_end_the_link() -> None:
    m = _long_message(1)
    section = chat.slack(m)["blocks"][1]["text"]["text"]
    label = section.split("|", 1)[1].split(">", 1)[0]
    assert "|" not in label and "<" not in label  # the label ends at the link's own ">"
    assert section.startswith("*<https://arxiv.org/abs/2606.00000|")


def test_a_hook_that_does_not_answer_in_time_is_retried(run: Any, env: dict[str, str],
                                                       hooks: HookServer,
                                                       db_url: str) -> None:
    hooks.delay = 2.0  # past DIGEST_HTTP_TIMEOUT
    slow = {**env, "DIGEST_HTTP_TIMEOUT": "0.5"}
    with SmtpServer() as sink:
        assert send(run, slow, sink.url).exit_code == 3
        store = Store(db_url)
        assert store.channel_counts() == {"retry": 5}
        assert {r.last_error for r in store.channel_sends()} == {"no answer within 0.5 s"}
        hooks.delay = 0.0
        assert send(run, slow, sink.url, NOW + timedelta(minutes=6)).exit_code == 0
    assert store.channel_counts() == {"sent": 5}
