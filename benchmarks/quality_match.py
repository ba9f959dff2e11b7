"""How right the followed-author and keyword cards are, on a hand-labelled set (issue 35).

The set is ``tests/data/quality/match_labels.yaml``: a window of real 2026 days of the
Hugging Face daily papers, subscribers with default settings (weekly, Monday 08:00 UTC)
who follow a common name, a hyphenated name, a name written with or without a middle
initial, or a keyword phrase, and for each of them every paper of the window that digest
put in their author or keyword sections, or that they should have received, labelled
relevant or not with the evidence (who the person is: co-authors, organisation, topic; for
a phrase: whether the paper is about it). See docs/benchmarks.md.

What it does, through the command line only (so it keeps working while the internals
move): ingests the history before the window (``history_from``: a real install has been
running when a reader subscribes) and each day's file into a temporary SQLite database
with ``digest ingest --now <day>T20:00Z``, sends an unjudged first digest at ``start``;
then at each weekly send time previews every subscriber's digest (``digest preview
--format json``) and records it (``digest send`` into a temporary Maildir), so each week
holds what is new since the last digest, as for a real reader. Before each send, a
reader whom ``digest check`` asks "which <name>?" answers with the offered person whose
papers hold one of their label's ``means`` (``--unanswered``: readers never answer).
The cards counted are those of the ``authors`` and ``keywords`` sections (what the
reader follows), and of any section added later that is not trending, rising,
recommended or "possibly" (the "Possibly by" list asks the reader: counted apart).

Precision: cards labelled relevant / cards labelled. Recall: relevant papers that reached
the reader in those sections / papers labelled relevant. A card with no label is listed
apart with a warning and the precision were it wrong (label it: it is left out of the
figures). Prints per subscriber and overall,
then every wrong card and every missed paper with its label's reason.

    .venv/bin/python benchmarks/quality_match.py [--data ../shared/data/hf-daily] [--json]
        [--unanswered]
    .venv/bin/python benchmarks/quality_match.py --check   # the labels' shape, in a second

Takes 4 to 7 minutes on a busy 2-core machine (about 180 short ``digest`` commands).
Reads the days from ``../shared/data/hf-daily`` (relative to the project root); without
them it says so and exits 0.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "data" / "quality" / "match_labels.yaml"
DATA = ROOT.parent / "shared" / "data" / "hf-daily"
# Sections that are not a match on what the reader follows; every other section counts
# (today "authors" and "keywords"; a section the matching work adds is counted too).
NOT_COUNTED = ("trending", "rising", "recommended")
# The section of papers only possibly by a followed name, offered with a question: not a
# card the reader asked for, counted apart (how many relevant ones it offered).
ASKED = "possibly"


@dataclass
class Card:
    """One paper in one reader's author or keyword section."""

    arxiv: str
    title: str
    week: str
    section: str
    reasons: list[str]
    leads: bool  # the subject line starts with this paper


@dataclass
class Score:
    """One subscriber's cards against their labels."""

    email: str
    kind: str  # "author" or "keyword"
    follows: list[str]
    cards: list[Card] = field(default_factory=list)
    right: list[tuple[Card, str]] = field(default_factory=list)
    wrong: list[tuple[Card, str]] = field(default_factory=list)
    unlabelled: list[Card] = field(default_factory=list)
    missed: list[tuple[str, str, str]] = field(default_factory=list)  # arxiv, title, why
    relevant: int = 0
    # papers offered as only possibly theirs, with their label (None: not labelled)
    asked: list[tuple[Card, bool | None]] = field(default_factory=list)

    def offered(self, relevant: bool | None) -> int:
        """How many papers the "Possibly by" list offered with this label."""
        return sum(1 for _, label in self.asked if label is relevant)

    @property
    def offered_missed(self) -> int:
        """Relevant papers never a card but offered as possibly theirs."""
        never = {arxiv for arxiv, _, _ in self.missed}
        return sum(1 for card, label in self.asked if label and card.arxiv in never)

    @property
    def precision(self) -> float | None:
        judged = len(self.right) + len(self.wrong)
        return len(self.right) / judged if judged else None

    @property
    def recall(self) -> float | None:
        return (self.relevant - len(self.missed)) / self.relevant if self.relevant else None


def problems(labels: dict[str, Any]) -> list[str]:
    """What is wrong with the labelled set's shape (empty when nothing is)."""
    found = []
    window = labels.get("window") or {}
    for key in ("days", "ingest_at", "sends", "start"):
        if not window.get(key):
            found.append(f"window: no {key}")
    subscribers = (labels.get("subscriptions") or {}).get("subscribers") or []
    readers = labels.get("readers") or {}
    emails = [s.get("email") for s in subscribers]
    if not subscribers:
        found.append("subscriptions: no subscribers")
    for email in sorted(set(readers) ^ set(emails), key=str):
        found.append(f"{email}: in only one of subscriptions and readers")
    for email, reader in readers.items():
        if not str(reader.get("who", "")).strip():
            found.append(f"{email}: no 'who'")
        seen: set[str] = set()
        for i, paper in enumerate(reader.get("papers") or []):
            arxiv = str(paper.get("arxiv", ""))
            if arxiv in seen:
                found.append(f"{email}: {arxiv} labelled twice")
            seen.add(arxiv)
            if not arxiv or not paper.get("title") or not str(paper.get("why", "")).strip():
                found.append(f"{email}: paper {i + 1} needs arxiv, title and why")
            if not isinstance(paper.get("relevant"), bool):
                found.append(f"{email}: {arxiv}: relevant must be true or false")
    return found


def run(*args: str, env: dict[str, str]) -> str:
    """Run one ``digest`` command (it must succeed) and return what it printed."""
    done = subprocess.run([sys.executable, "-m", "digest", "-q", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        sys.exit(f"digest {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def arxiv_ids(env: dict[str, str]) -> dict[int, str]:
    """Database id to arXiv id, from ``digest papers --json``."""
    found: dict[int, str] = {}
    for line in run("papers", "--json", env=env).splitlines():
        paper = json.loads(line)
        found[paper["id"]] = paper.get("arxiv_id") or f"title:{paper['title']}"
    return found


def collect(labels: dict[str, Any], data: Path, folder: Path, answer: bool
            ) -> tuple[dict[str, list[Card]], dict[str, list[str]]]:
    """Ingest the history, send an unjudged first digest, then ingest the window day by
    day, and each week preview and send every digest; before each send, readers answer
    the "which one?" that ``digest check`` asks (unless not ``answer``). Returns the
    cards, and for each reader the names they were asked about."""
    config = folder / "subscriptions.yaml"
    # a copy: a reader's answer pins their name here, never in the labels
    subscriptions = copy.deepcopy({**labels["subscriptions"], "sources": []})
    write(config, subscriptions)
    env = {"DIGEST_DB": f"sqlite:///{folder / 'quality.db'}", "DIGEST_CONFIG": str(config),
           "DIGEST_MAILDIR": str(folder / "mail"), "DIGEST_SMTP_URL": ""}
    window = labels["window"]
    for day in history_days(window, data):
        run("ingest", str(data / f"{day}.json"), "--now", f"{day}T{window['ingest_at']}:00Z",
            env=env)
    asked: dict[str, list[str]] = {}
    ask(labels, subscriptions, config, env, answer, asked)
    run("send", "--now", window["start"], "--workers", "1", env=env)
    days = list(window["days"])
    emails = [s["email"] for s in labels["subscriptions"]["subscribers"]]
    cards: dict[str, list[Card]] = {e: [] for e in emails}
    for when in window["sends"]:
        while days and f"{days[0]}T{window['ingest_at']}" < when:
            day = days.pop(0)
            run("ingest", str(data / f"{day}.json"), "--now",
                f"{day}T{window['ingest_at']}:00Z", env=env)
        ask(labels, subscriptions, config, env, answer, asked)
        ids = arxiv_ids(env)
        for email in emails:
            plan = json.loads(run("preview", email, "--format", "json", "--now", when, env=env))
            subject = plan.get("subject", "")
            for section in plan["sections"]:
                if section["name"] in NOT_COUNTED:
                    continue
                for paper in section["papers"]:
                    cards[email].append(Card(
                        ids[paper["id"]], paper["title"], when[:10], section["name"],
                        list(paper.get("reasons", [])), leads(subject, paper["title"])))
        run("send", "--now", when, "--workers", "1", env=env)
    return cards, asked


def history_days(window: dict[str, Any], data: Path) -> list[str]:
    """The days of data before the window, from ``history_from`` (none without it)."""
    first = window.get("history_from")
    if not first:
        return []
    return sorted(f.stem for f in data.glob("*.json") if first <= f.stem < window["days"][0])


def write(config: Path, subscriptions: dict[str, Any]) -> None:
    config.write_text(yaml.safe_dump(subscriptions, sort_keys=False, allow_unicode=True),
                      encoding="utf-8")


def ask(labels: dict[str, Any], subscriptions: dict[str, Any], config: Path,
        env: dict[str, str], answer: bool, asked: dict[str, list[str]]) -> None:
    """What ``digest check`` asks about followed names, and each reader's answer: the
    pin it offers whose papers hold one of the reader's ``means`` (the papers of the
    person they mean, from their label's ``who``); none when no offer holds one."""
    verdict = json.loads(run("check", "--json", env=env))
    changed = False
    for offer in verdict.get("pins", []):
        email, name = offer["subscriber"], offer["name"]
        if name not in asked.setdefault(email, []):
            asked[email].append(name)
        means = set(labels["readers"][email].get("means") or ())
        if not answer or not means & set(offer.get("papers", ())):
            continue
        (pin,) = yaml.safe_load("[" + offer["pin"] + "]")
        for sub in subscriptions["subscribers"]:
            if sub["email"] == email:
                sub["authors"] = [pin if a == name else a for a in sub["authors"]]
                changed = True
    if changed:
        write(config, subscriptions)


def leads(subject: str, title: str) -> bool:
    """Whether the subject line names this paper first (``Name: Title… · N for you``)."""
    head = subject.split(" · ")[0]
    short = head.split(": ", 1)[1] if ": " in head else head
    return bool(short) and title.startswith(short.rstrip("…").strip())


def score(labels: dict[str, Any], cards: dict[str, list[Card]]) -> list[Score]:
    scores = []
    for sub in labels["subscriptions"]["subscribers"]:
        email = sub["email"]
        reader = labels["readers"][email]
        verdicts = {str(p["arxiv"]): p for p in reader["papers"]}
        kind = "author" if sub.get("authors") else "keyword"
        follows = [str(x) for x in sub.get("authors", []) + sub.get("keywords", [])]
        s = Score(email, kind, follows)
        seen: set[str] = set()
        offered: set[str] = set()
        for card in cards.get(email, []):
            if card.section == ASKED:
                if card.arxiv not in offered:
                    offered.add(card.arxiv)
                    verdict = verdicts.get(card.arxiv)
                    s.asked.append((card, None if verdict is None else verdict["relevant"]))
                continue
            if card.arxiv in seen:  # each paper once, whichever week brought it
                continue
            seen.add(card.arxiv)
            s.cards.append(card)
            verdict = verdicts.get(card.arxiv)
            if verdict is None:
                s.unlabelled.append(card)
            elif verdict["relevant"]:
                s.right.append((card, verdict["why"]))
            else:
                s.wrong.append((card, verdict["why"]))
        for arxiv, verdict in verdicts.items():
            if verdict["relevant"]:
                s.relevant += 1
                if arxiv not in seen:
                    s.missed.append((arxiv, verdict["title"], verdict["why"]))
        scores.append(s)
    return scores


def total(scores: Iterable[Score], email: str, kind: str) -> Score:
    """The sum of several subscribers' scores (micro-average: every card counts once)."""
    t = Score(email, kind, [])
    for s in scores:
        t.cards += s.cards
        t.right += s.right
        t.wrong += s.wrong
        t.unlabelled += s.unlabelled
        t.missed += s.missed
        t.relevant += s.relevant
        t.asked += s.asked
    return t


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def as_json(s: Score) -> dict[str, Any]:
    return {"subscriber": s.email, "kind": s.kind, "follows": s.follows,
            "cards": len(s.cards), "right": len(s.right), "wrong": len(s.wrong),
            "unlabelled": len(s.unlabelled), "relevant": s.relevant,
            "reached": s.relevant - len(s.missed), "precision": s.precision,
            "possibly": {"relevant": s.offered(True), "not": s.offered(False),
                         "unlabelled": s.offered(None),
                         "relevant_never_a_card": s.offered_missed},
            "recall": s.recall,
            "leads": sum(c.leads for c in s.cards),
            "wrong_leads": sum(c.leads for c, _ in s.wrong),
            "wrong_cards": [{"arxiv": c.arxiv, "title": c.title, "week": c.week,
                             "reasons": c.reasons, "leads_subject": c.leads, "why": why}
                            for c, why in s.wrong],
            "missed": [{"arxiv": a, "title": t, "why": why} for a, t, why in s.missed],
            "unlabelled_cards": [{"arxiv": c.arxiv, "title": c.title, "week": c.week,
                                  "reasons": c.reasons} for c in s.unlabelled]}


def report(scores: list[Score], labels: dict[str, Any], asked: dict[str, list[str]],
           answer: bool) -> None:
    window = labels["window"]
    print(f"{len(window['days'])} days ({window['days'][0]} .. {window['days'][-1]}) after "
          f"history from {window.get('history_from', '-')}, {len(window['sends'])} weekly "
          f"digests each, {len(scores)} subscribers; cards of the author and keyword "
          "sections; readers " + ("answer \"which one?\"" if answer else
                                  "never answer \"which one?\" (--unanswered)"))
    print(f"{'subscriber':<26} {'follows':<26} {'cards':>5} {'right':>5} {'wrong':>5} "
          f"{'unlab':>5} {'precision':>9} {'relevant':>8} {'reached':>7} {'recall':>6}")
    groups = [total([s for s in scores if s.kind == "author"], "people", ""),
              total([s for s in scores if s.kind == "keyword"], "phrases", ""),
              total(scores, "overall", "")]
    for i, s in enumerate([*scores, *groups]):
        if i == len(scores):
            print("-" * 110)
        print(f"{s.email.split('@')[0]:<26} {', '.join(s.follows)[:26]:<26} "
              f"{len(s.cards):>5} {len(s.right):>5} {len(s.wrong):>5} {len(s.unlabelled):>5} "
              f"{pct(s.precision):>9} {s.relevant:>8} {s.relevant - len(s.missed):>7} "
              f"{pct(s.recall):>6}")
    everyone = groups[-1]
    if everyone.unlabelled:
        strict = len(everyone.right) / len(everyone.cards)
        print(f"WARNING: {len(everyone.unlabelled)} cards have no label (listed below): the "
              "figures leave them out; label them. Counting them as wrong, precision is "
              f"{pct(strict)}.")
    print(f"offered as \"Possibly by\" (not cards): {everyone.offered(True)} relevant, "
          f"{everyone.offered(False)} not, {everyone.offered(None)} unlabelled; relevant "
          f"papers reached only there: {everyone.offered_missed}")
    common = [e for e, r in labels["readers"].items() if str(r.get("kind", "")).startswith(
        "common name")]
    print("asked \"which one?\" (digest check): " + ", ".join(
        f"{e.split('@')[0]}: {', '.join(asked.get(e, [])) or 'NOT ASKED'}" for e in common)
        + "; also " + (", ".join(f"{e.split('@')[0]} ({', '.join(n)})" for e, n in
                                  asked.items() if e not in common and n) or "nobody else"))
    leads_wrong = sum(c.leads for s in scores for c, _ in s.wrong)
    leads_all = sum(c.leads for s in scores for c in s.cards)
    print(f"subject lines led by a wrong card: {leads_wrong} of the {leads_all} led by a "
          "followed author's or keyword's paper")
    for s in scores:
        if not (s.wrong or s.missed or s.unlabelled):
            continue
        print(f"\n{s.email} ({', '.join(s.follows)})")
        for c, why in s.wrong:
            lead = " [leads the subject]" if c.leads else ""
            print(f"  wrong   {c.arxiv}  {c.title[:70]}{lead}\n          {why}")
        for arxiv, title, why in s.missed:
            print(f"  missed  {arxiv}  {title[:70]}\n          {why}")
        for c in s.unlabelled:
            print(f"  UNLABELLED {c.arxiv}  {c.title[:70]} ({'; '.join(c.reasons)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA,
                        help="the folder of Hugging Face daily_papers files "
                             "(default ../shared/data/hf-daily beside the project)")
    parser.add_argument("--labels", type=Path, default=LABELS, help="the labelled set")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--unanswered", action="store_true",
                        help="readers never answer \"which one?\" (default: each answers "
                             "with the person their label means, once asked)")
    parser.add_argument("--check", action="store_true",
                        help="only check the labelled set's shape (no data needed), then exit")
    args = parser.parse_args()
    labels = yaml.safe_load(args.labels.read_text(encoding="utf-8"))
    wrong = problems(labels)
    if wrong:
        sys.exit(f"{args.labels}:\n  " + "\n  ".join(wrong))
    if args.check:
        count = sum(len(r["papers"]) for r in labels["readers"].values())
        print(f"{args.labels}: OK, {len(labels['readers'])} subscribers, {count} labels")
        return
    missing = [d for d in labels["window"]["days"] if not (args.data / f"{d}.json").is_file()]
    if not missing and not history_days(labels["window"], args.data):
        missing = [labels["window"].get("history_from", "history_from")]
    if missing:
        print(f"{args.data}: the real data is not here ({len(missing)} of the "
              f"{len(labels['window']['days'])} days missing, e.g. {missing[0]}.json); "
              "this benchmark needs ../shared/data/hf-daily beside the project, or --data. "
              "Nothing measured.")
        return
    with tempfile.TemporaryDirectory(prefix="quality-match-") as tmp:
        cards, asked = collect(labels, args.data, Path(tmp), not args.unanswered)
    scores = score(labels, cards)
    if args.json:
        groups = {k: as_json(total([s for s in scores if s.kind == k], k, k))
                  for k in ("author", "keyword")}
        overall = as_json(total(scores, "overall", "all"))
        document = {"window": labels["window"], "answered": not args.unanswered,
                    "asked": asked, "subscribers": [as_json(s) for s in scores],
                    "by_kind": groups, "overall": overall}
        print(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    else:
        report(scores, labels, asked, not args.unanswered)


if __name__ == "__main__":
    main()
