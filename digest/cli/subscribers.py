"""``digest subscribers``: list everyone, and manage the database's subscribers (add,
export, import); subscriptions.yaml manages its own."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import yaml
from rich import box
from rich.table import Table

from digest.app import App
from digest.cli.base import console, settings_options
from digest.config import check_subscriber, decoded, load_entries
from digest.errors import ConfigError, UnknownSubscriber
from digest.prefs import FIELDS
from digest.settings import parse_now
from digest.store import Store
from digest.text import plural
from digest.vocab import BounceKind, Cadence, Managed


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document: {\"subscribers\": "
              "[...]}, with the same fields as the table.")
@settings_options(reads_config=False, create=False)
@click.pass_context
def subscribers(ctx: click.Context, as_json: bool, app: App) -> None:
    """List everyone, with state, who manages them, last digest sent and counts.

    Subscribers listed in subscriptions.yaml are managed there; the others (who
    subscribed on the web pages, or whom an admin added) live in the database.

    \b
    Examples:
        digest subscribers
        digest subscribers add ada@example.org --author "Maojiang Su" --keyword "flow matching"
        digest subscribers export --format yaml -o subscribers.yaml
        digest subscribers import subscribers.yaml
        digest subscribers reset ada@example.org
        digest subscribers reset-periods
    """
    if ctx.invoked_subcommand is not None:
        return
    store = app.store
    statuses, suppressed = store.statuses(), store.suppressed()
    blocked = store.blocked_channels()
    if as_json:
        click.echo(json.dumps({"suppressed": suppressed, "suppressed_channels": [
            {"email": email, "channel": where, "since": since.isoformat(), "error": error}
            for email, where, since, error in blocked], "subscribers": [{
            "email": st.email, "name": st.name, "state": st.state, "managed": st.managed,
            "cadence": st.cadence,
            "last_digest": st.last_digest.isoformat() if st.last_digest else None,
            "digests_sent": st.digests_sent, "papers_sent": st.papers_sent,
            "suppressed": st.suppressed,
            "suppressed_at": st.suppressed_at.isoformat() if st.suppressed_at else None}
            for st in statuses]}))
        return
    table = Table(box=box.SIMPLE_HEAD)
    for name in ("Email", "Name", "State", "Managed by", "Cadence", "Last digest", "Digests",
                 "Papers"):
        table.add_column(name, justify="right" if name in ("Digests", "Papers") else "left")
    for st in statuses:
        last = f"{st.last_digest:%Y-%m-%d %H:%M}" if st.last_digest else "-"
        table.add_row(st.email, st.name, st.state, str(Managed.FILE) if st.managed == Managed.FILE
                      else "database", st.cadence, last, str(st.digests_sent), str(st.papers_sent))
    console().print(table)
    click.echo(suppressed_line(suppressed))
    for st in statuses:
        if st.suppressed and st.suppressed_at:
            click.echo(f"  {st.email}: {st.suppressed} (since {st.suppressed_at:%Y-%m-%d})")
    if blocked:
        click.echo(f"Suppressed channels (answered 404 or 410): {len(blocked)}")
    for email, where, since, error in blocked:
        click.echo(f"  {email}: {where} (since {since:%Y-%m-%d}): {error}")


def suppressed_line(counts: dict[str, int]) -> str:
    """``Suppressed: 2 (1 hard bounce, 0 soft, 1 complaint)``."""
    hard, soft, complaints = (counts[BounceKind.HARD], counts[BounceKind.SOFT],
                              counts[BounceKind.COMPLAINT])
    return (f"Suppressed: {hard + soft + complaints} ({hard} hard "
            f"bounce{'' if hard == 1 else 's'}, {soft} soft, {complaints} "
            f"complaint{'' if complaints == 1 else 's'})")


def _synced(app: App) -> tuple[Store, datetime]:
    """The store, in step with subscriptions.yaml when there is one (its defaults)."""
    return app.synced_if_any(), app.now()


@subscribers.command()
@click.argument("email")
@click.option("--name", default=None, help="Their name, for the greeting.")
@click.option("--author", "names", multiple=True, metavar="NAME", help="An author to follow "
              "(repeat it).")
@click.option("--keyword", "phrases", multiple=True, metavar="PHRASE",
              help="A keyword to follow (repeat it).")
@click.option("--cadence", type=click.Choice([str(c) for c in Cadence]), default=None)
@click.option("--day", default=None, help="Weekday of a weekly digest.")
@click.option("--send-at", default=None, metavar="HH:MM", help="Local time of the digest.")
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Berlin.")
@settings_options
def add(email: str, name: str | None, names: tuple[str, ...], phrases: tuple[str, ...],
        cadence: str | None, day: str | None, send_at: str | None, timezone: str | None,
        app: App) -> None:
    """Add (or change) a subscriber in the database, confirmed, checked like digest check.

    What is not given comes from defaults: in subscriptions.yaml.

    \b
    Example:
        digest subscribers add ada@example.org --author "Maojiang Su" --cadence daily
    """
    raw: dict[str, Any] = {"email": email, "name": name, "authors": list(names) or None,
                           "keywords": list(phrases) or None, "cadence": cadence,
                           "day": day, "send_at": send_at, "timezone": timezone}
    prefs, problems = check_subscriber({k: v for k, v in raw.items() if v is not None})
    if prefs is None:
        raise ConfigError("\n".join(f"subscriber {email}: {m}" for m in problems.values()))
    store, moment = _synced(app)
    outcome = store.put_subscriber(prefs, moment)
    click.echo(f"{prefs['email']}: {outcome}")


@subscribers.command()
@click.argument("emails", nargs=-1, required=True)
@settings_options(reads_config=False, create=False)
def reset(emails: tuple[str, ...], app: App) -> None:
    """Take back subscribers marked bouncing (their address works again): their next
    digests go out as usual. Their team channels suppressed after a 404 or 410 are
    tried again too (changing a channel in the settings does that as well).

    A subscriber is marked bouncing after DIGEST_BOUNCE_LIMIT (default 3) digests in a
    row that the mail server refused for good, a hard bounce `digest bounces` read, or
    temporary failures in DIGEST_SOFT_BOUNCE_LIMIT digests; `digest subscribers` lists
    them. Someone who unsubscribed (or complained) stays unsubscribed: only their own
    "Subscribe again", or `digest resubscribe`, brings them back.

    \b
    Example:
        digest subscribers reset ada@example.org
    """
    store = app.store
    unknown = [e for e in emails if not store.reset_bounces(e)]
    for email in emails:
        if email not in unknown and (n := store.unblock_channels(email)):
            click.echo(f"{email}: {plural(n, 'suppressed channel')} tried again")
    states = {st.email.casefold(): st.state for st in store.statuses()}
    for email in emails:
        state = states.get(email.casefold())
        if email in unknown:
            continue
        if state in (None, "active"):
            click.echo(f"{email}: takes digests again")
        else:
            click.echo(f"{email}: no longer marked bouncing, but still {state}"
                       + (" (digest resubscribe brings them back if they asked)"
                          if state == "unsubscribed" else ""))
    if unknown:
        raise UnknownSubscriber(f"no subscriber {', '.join(unknown)}; digest subscribers lists "
                          "everyone")


@subscribers.command("reset-periods")
@click.argument("emails", nargs=-1)
@click.option("--after", metavar="ISO-TIME", help="Undo what was recorded for periods after "
              "this moment (default: now, the clock or --now).")
@settings_options(reads_config=False, create=False)
def reset_periods(emails: tuple[str, ...], after: str | None, app: App) -> None:
    """Undo a pass run ahead of time (a --now or DIGEST_NOW in the future, with
    --force-clock): for everyone, or only EMAIL..., every digest not sent that a pass
    planned after --after or for a period after it (planned, skipped, waiting for a retry,
    failed, or recorded as missed on the way to that moment) is deleted, and each
    subscriber's latest period and cut-off move back to those of the digests left, so the
    next pass plans today's digest again. Digests that went out stay recorded, and their
    papers are not sent again. Papers an ingest ahead of time recorded as first seen
    later than now (--now, else the clock) count as first seen now, so they are due.

    \b
    Examples:
        digest subscribers reset-periods
        digest subscribers reset-periods --after 2026-12-07T00:00Z ada@example.org
    """
    moment = parse_now(after, "--after") if after else app.now()
    store = app.store
    unknown = [e for e in emails if store.record(email=e) is None]
    if unknown:
        raise UnknownSubscriber(f"no subscriber {', '.join(unknown)}; digest subscribers lists "
                          "everyone")
    done = store.reset_periods(moment, app.now(), list(emails) or None)
    click.echo(f"Periods after {moment.isoformat()}: moved back for "
               f"{_count(done.subscribers)}; {done.deleted} unsent "
               f"digest{'' if done.deleted == 1 else 's'} deleted; {done.papers} "
               f"paper{'' if done.papers == 1 else 's'} first seen later now seen now.")


@subscribers.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of printing ('-' prints too).")
@settings_options(reads_config=False, create=False)
def export(fmt: str, output: Path | None, app: App) -> None:
    """Write the database's subscribers as a file that import reads back unchanged.

    Each has their own settings (not defaults:) and a state when not active (paused,
    unsubscribed). Subscribers of subscriptions.yaml and unconfirmed ones are left out.

    \b
    Example:
        digest subscribers export -o subscribers.yaml
    """
    entries = []
    for prefs, state in app.store.exported_subscribers():
        entry = {f.key: prefs[f.key] for f in FIELDS if f.key in prefs}
        if state != "active":
            entry["state"] = state
        entries.append(entry)
    document = {"subscribers": entries}
    if fmt == "json":
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    else:
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False,
                              default_flow_style=False, width=100)
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {_count(len(entries))} to {output}", err=True)


@subscribers.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@settings_options
def import_(file: Path, app: App) -> None:
    """Add or change the database's subscribers from FILE (YAML or JSON, as export writes;
    '-' reads standard input).

    Every entry is checked like digest check; with any problem nothing is imported.

    \b
    Example:
        digest subscribers import subscribers.yaml
        digest subscribers reset ada@example.org
    """
    if str(file) == "-":
        file = Path("<stdin>")
        entries = load_entries(file, decoded(file, sys.stdin.buffer.read()))
    else:
        entries = load_entries(file)
    store, moment = _synced(app)
    counts = store.import_subscribers([(e.prefs, e.state) for e in entries], moment)
    click.echo(f"imported {_count(len(entries))} from {file}: " + ", ".join(
        f"{n} {k}" for k, n in counts.items()))


def _count(n: int) -> str:
    return f"{n} subscriber{'' if n == 1 else 's'}"
