"""Commands about subscribers and their digests: check, preview, subscribers, resubscribe."""

from __future__ import annotations

import json
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from digest.app import App
from digest.cli.base import settings_options
from digest.cli.papers import _iso
from digest.config import ConfigProblems, find_subscriber, load_config
from digest.errors import ConfigError, StoreError, UnknownSubscriber
from digest.model import Digest, Pin, Subscriber
from digest.plan import NameNote, build_digests, check_names
from digest.render import Renderer, subject
from digest.text import one_line


@click.command()
@click.argument("given", required=False, metavar="[PATH]", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The verdict as one JSON document.")
@settings_options(create=False, now_first=False)
def check(given: Path | None, as_json: bool, app: App) -> None:
    """Validate a subscriptions file; list every problem with its line and subscriber.

    With a database (--db), also notes (exit 0) each followed name that the stored
    papers show to be several people, with a pin for each, and each pinned profile the
    database holds nothing of.

    --json prints {"ok": true, "file", "subscribers", "sources"} (and "notes": [...] and
    the pins they offer, "pins": [{"subscriber", "name", "pin", "about", "titles",
    "papers"}], when there are any), or {"ok": false, "file", "problems": [...]} and exits 1.

    \b
    Example:
        digest check subscriptions.yaml
    """
    target = given or app.config_path
    try:
        loaded = load_config(target)
    except ConfigError as e:
        if not as_json:
            raise
        click.echo(json.dumps({"ok": False, "file": str(target), "problems": _problems(e)}))
        raise click.exceptions.Exit(1) from e
    notes = _name_notes(app, loaded.subscribers)
    if as_json:
        verdict: dict[str, Any] = {"ok": True, "file": str(target),
                                   "subscribers": len(loaded.subscribers),
                                   "sources": len(loaded.sources)}
        if notes:
            verdict["notes"] = [_note_line(target, n) for n in notes]
            verdict["pins"] = [{"subscriber": n.subscriber.email, "name": n.name,
                                "pin": _pin_yaml(c.pin(n.name))[2:], "about": c.describe(),
                                "titles": list(c.titles), "papers": list(c.arxiv_ids)}
                               for n in notes for c in n.candidates]
        click.echo(json.dumps(verdict))
        return
    click.echo(f"OK: {loaded.summary()}")
    for n in notes:
        click.echo(_note_line(target, n))
        for c in n.candidates:
            click.echo(f"    {_pin_yaml(c.pin(n.name))}  # {c.describe()}")


def _problems(e: ConfigError) -> list[str]:
    """Each problem on a line of its own (a file that cannot be read at all is one)."""
    lines = [p.render(e.path) for p in e.problems] if isinstance(e, ConfigProblems) \
        else [str(e)]
    return [one_line(part) for line in lines for part in line.split("\n") if part]


def _name_notes(app: App, subscribers: Sequence[Subscriber]) -> list[NameNote]:
    """The notes on followed names, when there is a database to read them from."""
    try:
        store = app.store
    except StoreError:
        return []
    return check_names(store, subscribers)


def _note_line(path: Path, n: NameNote) -> str:
    where = f"{path}:{n.subscriber.line}" if n.subscriber.line else str(path)
    more = ", e.g. with one of:" if n.candidates else ""
    return one_line(f"{where}: subscriber {n.subscriber.email}: note: {n.text}{more}")


def _pin_yaml(pin: Pin) -> str:
    """``- {name: Wei Wang, with: [Zhenguo Li, Tianyang Hu], papers: [2604.01234]}``, as
    subscriptions.yaml takes it."""
    keys = [f"name: {json.dumps(pin.name, ensure_ascii=False)}"]
    if pin.with_:
        keys.append(f"with: {json.dumps(list(pin.with_), ensure_ascii=False)}")
    if pin.papers:
        keys.append(f"papers: {json.dumps(list(pin.papers))}")
    return one_line(f"- {{{', '.join(keys)}}}")


@click.command()
@click.argument("email")
@click.option("--format", "fmt", type=click.Choice(["text", "html", "json"]), default="text",
              show_default=True, help="The mail's text part, its HTML part, or the plan as JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of printing.")
@click.option("--open", "open_browser", is_flag=True, help="Open the written HTML in a browser.")
@settings_options(create=False)
def preview(email: str, fmt: str, output: Path | None, open_browser: bool, app: App) -> None:
    """Show the digest EMAIL would get at --now, recording nothing.

    It sees the database as it was at --now: papers first seen by then, and EMAIL's
    history up to then (papers sent, digests planned after --now do not count).

    \b
    Examples:
        digest preview ada@example.org
        digest preview ada@example.org --format html -o ada.html --open
        digest preview ada@example.org --now 2026-08-21T08:00:00+02:00 --format json
    """
    loaded = app.config
    store = app.store
    subscriber = find_subscriber(loaded, email)
    if subscriber is None:  # not in the file: one who subscribed online, or was added
        found = store.record(email=email)
        if found is None:
            raise UnknownSubscriber(f"no subscriber {email} in {loaded.path} or the "
                                    "database; check the spelling (digest subscribers lists "
                                    "everyone)")
        subscriber = found.subscriber
    (planned,) = build_digests(store, [subscriber], app.now())
    mail = app.mail
    renderer = Renderer(mail.envelope.list_name, images=mail.images)
    # What the mail holds: a digest whose HTML would pass the size limit loses its last
    # cards, and the JSON lists the same papers.
    rendered, digest = renderer.render_within(planned, mail.placeholders(subscriber))
    if fmt == "json":
        body = json.dumps(digest_json(digest), ensure_ascii=False, indent=2) + "\n"
    else:
        body = rendered.html if fmt == "html" else rendered.text
    if output is None:
        click.echo(body, nl=False)
        return
    output.write_text(body, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
    if open_browser:
        webbrowser.open(output.resolve().as_uri())


def digest_json(digest: Digest) -> dict[str, Any]:
    """The JSON ``digest preview --format json`` prints."""
    return {
        "subscriber": digest.subscriber.email,
        "subject": subject(digest),
        "period": {"start": digest.start.isoformat(), "end": digest.end.isoformat()},
        "sections": [{"name": section.name, "papers": [
            {"id": it.paper.id, "arxiv_id": it.paper.arxiv_id, "title": it.paper.title,
             "reasons": [str(r) for r in it.reasons],
             "upvotes": it.paper.upvotes, "score": it.paper.score,
             "published": _iso(it.paper.published) or None,
             "featured": _iso(it.paper.featured) or None}
            for it in section.items]} for section in digest.sections],
        "notes": list(digest.notes),
    }
