"""Planning: who is due at ``now``, and which digest (or alert) each of them gets.

Subscribers come from the database, by send group (``Subscriber.group_key``): for each
group the latest scheduled instant not after now names the period, and only members whose
outbox has no digest of that period yet are loaded and ranked, so a pass where nothing is
due costs the same with 100 subscribers as with 100,000. Several missed periods collapse
into the latest one, which covers everything due since the last digest; periods skipped
over (the bot was down) and a latest period found more than ``grace_hours`` late are
recorded as missed rather than sent late.

Subscribers stream through in batches of ``BATCH``: each batch is read, ranked against the
pass's papers (read and indexed once, ``rank.Ranking``) and put in the outbox before the
next is read, so memory stays flat however many subscribers there are. The pass's papers
are what is new: those first seen since the earliest previous digest of the subscribers
planned (``rank.new_since``: never more than ``REACH_DAYS`` back, by an index), with the
papers rising lately and those owed read by id; so a pass reads a week of papers whether
the store holds a month or years of them, and ``max_age_days`` says which of those are
young enough, not what is read. The momentum
ranking (``digest.rising``) is read and worked out once per pass too, and so is the
TF-IDF index of recommendations (``digest.recommend``, ``taste``): fitted on the stored
terms of the pass's papers (with the papers stored last before them, when the pass has
fewer than ``TASTE_BACKGROUND``), with a row for each paper the batches' subscribers
liked or disliked in the last ``TASTE_DAYS``, wherever it is in the archive (added as
each batch brings new ones); only when a subscriber of the pass has liked enough papers,
so that passes without any cost nothing more.

History: a plan that is recorded (a real send, the bot) reads the subscribers' whole
history, so a paper sent once is never sent again, whatever ``now`` says (a real send at a
past ``now`` is a replay: what was sent since still counts). A plan that records nothing
(``digest preview``, ``send --dry-run``: ``build_digests``, ``plan_due(record=False)``)
sees the history as it was at ``now``: papers sent, digests planned and cut-offs recorded
after ``now`` do not count, so it shows the digest that ``now`` would have built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from digest import defaults, rising
from digest.heap import pass_heap, settle
from digest.model import Digest, History, Paper, Pin, Plan, Subscriber
from digest.pins import (
    Candidate,
    Person,
    PersonKey,
    Resolution,
    note,
    person_key,
    profile_key,
    resolve,
)
from digest.rank import NameKey, Ranking, name_key_of, new_since, plan_digests
from digest.schedule import latest_slot, slots_between
from digest.store import Member, Store
from digest.text import arxiv_key, name_keys
from digest.vocab import MINE, Cadence, MessageKind, ReasonKind, SectionName

if TYPE_CHECKING:  # scikit-learn loads only for passes that recommend
    from digest.recommend import TasteIndex

# Subscribers read, ranked and put in the outbox at a time: memory stays flat however many
# there are, and each batch is a few statements.
BATCH = 2_000


def build_digests(store: Store, subscribers: Sequence[Subscriber], now: datetime) -> list[Digest]:
    """The digest each subscriber would get at ``now``, from the papers first seen by then
    and their history as it was then; reads the store, writes nothing."""
    if not subscribers:
        return []
    emails = [s.email for s in subscribers]
    before = store.histories((), emails, as_of=now)  # the cut-offs, and what is owed
    since = min(new_since(s, before.get(s.email.casefold(), History()).last_digest_at, now)
                for s in subscribers)
    rising_now = momentum(store, now)
    owed = set().union(*(h.owed for h in before.values()))
    papers = [p for p in read_papers(store, since, owed | {m.paper_id for m in rising_now})
              if p.first_seen and p.first_seen <= now]
    histories = store.histories((p.id for p in papers if p.id is not None), emails, as_of=now)
    index = taste(store, now, papers, taste_ids(subscribers)) if tasting(subscribers) \
        else None
    notes = Notes(store, {p.id: p for p in papers if p.id is not None})  # not read again
    # every followed name in one go, not a query a digest
    names = notes.resolutions(subscribers)
    digests = plan_digests(subscribers, papers, histories, now, rising_now,
                           people_of(store, subscribers), index, names)
    return [replace(d, notes=notes.of(d.subscriber)) for d in digests]


def read_papers(store: Store, since: datetime, extra: Collection[int]) -> list[Paper]:
    """The papers first seen after ``since`` and those with the ids ``extra`` (rising,
    owed: read whenever first seen), in the order first stored."""
    papers = store.papers_seen_since(since)
    have = {p.id for p in papers}
    papers += store.papers_by_id(set(extra) - have).values()
    return sorted(papers, key=lambda p: p.id or 0)


def momentum(store: Store, now: datetime) -> list[rising.Momentum]:
    """The papers rising at ``now``, fastest first (``digest.rising``)."""
    return rising.momentum(store.upvote_snapshots(now - rising.WINDOW, now), now)


def people_of(store: Store, subscribers: Iterable[Subscriber],
              have: Container[PersonKey] = ()) -> dict[PersonKey, Person]:
    """What the store knows of the persons ``subscribers`` pin (those not in ``have``):
    the papers their profiles credit them with, and those the readers said are theirs."""
    wanted = {person_key(pin): pin.name for sub in subscribers for pin in sub.pins
              if pin.pinned and person_key(pin) not in have}
    if not wanted:
        return {}
    profiles = store.known_papers({key[:2] for key in wanted})
    said = {arxiv_key(p.arxiv_id): p for p in store.papers_by_arxiv(
        {a for key in wanted for a in key[2]}) if p.arxiv_id}
    return {key: Person.of(name, [*profiles[key[:2]], *(said[a] for a in key[2] if a in said)])
            for key, name in wanted.items()}


@dataclass(frozen=True)
class NameNote:
    """What ``digest check`` says of one followed name: ambiguous (with the candidates),
    or pinned to a profile the database holds nothing of."""

    subscriber: Subscriber
    name: str
    text: str
    candidates: tuple[Candidate, ...] = ()


def check_names(store: Store, subscribers: Sequence[Subscriber]) -> list[NameNote]:
    """Notes on the followed names of ``subscribers``, in their order."""
    notes: list[NameNote] = []
    names = Notes(store)
    names.load(subscribers)
    known = store.known_papers(profile_key(p) for s in subscribers for p in s.pins)
    for sub in subscribers:
        for name in dict.fromkeys(sub.authors):
            pin = sub.pin(name)
            people = names.people(name) if not _pinned(pin) else ()
            if people:
                notes.append(NameNote(sub, name, note(name), people))
            elif pin is not None and pin.profile and not known[profile_key(pin)]:
                notes.append(NameNote(sub, name, f"{name} is pinned to the profile "
                             f"{pin.profile}, but the database has no papers it credits to "
                             f"{name}; digest ingest that profile"))
    return notes


def _pinned(pin: Pin | None) -> bool:
    return pin is not None and pin.pinned


def resolve_stored(store: Store, names: Iterable[str],
                   known: Mapping[int, Paper] | None = None) -> dict[str, Resolution]:
    """Who each of ``names`` stands for (``pins.resolve``) among the newest
    ``RESOLVE_PAPERS`` stored papers carrying it in any of its spellings, and those of
    ``known`` (by id: not read again) that carry it; in one query."""
    keys = {name: name_keys(name) for name in names}
    carrying = store.papers_carrying({k for ks in keys.values() for k in ks},
                                     defaults.RESOLVE_PAPERS, known)
    return {name: resolve(name, _evidence([p for k in spelt for p in carrying.get(k, ())],
                                          known or {}))
            for name, spelt in keys.items()}


def _evidence(papers: Iterable[Paper], known: Mapping[int, Paper]) -> list[Paper]:
    """Of the papers carrying a name in one spelling or another, the newest
    ``RESOLVE_PAPERS`` and those ``known``, once each, oldest first."""
    found = sorted({p.id: p for p in papers}.values(), key=_age, reverse=True)
    kept = found[:defaults.RESOLVE_PAPERS] + [
        p for p in found[defaults.RESOLVE_PAPERS:] if p.id in known]
    return sorted(kept, key=lambda p: p.id or 0)


def _age(paper: Paper) -> tuple[int, int]:
    """Newer first when sorted in reverse: the day it appeared, then its id."""
    day = paper.featured or paper.published
    return (day.toordinal() if day else 0, paper.id or 0)


class Notes:
    """Who each unpinned followed name of the subscribers stands for in the stored papers
    (``pins.resolve``), and the notes a digest carries: one for each such name that is
    several people. Each name is looked up once."""

    def __init__(self, store: Store, papers: Mapping[int, Paper] | None = None) -> None:
        self.store = store
        self.papers = papers  # in memory already, by id: not read again
        self._found: dict[NameKey, Resolution] = {}

    def load(self, subscribers: Iterable[Subscriber],
             wanted: Callable[[str], bool] | None = None) -> None:
        """Look up, in one go, the unpinned followed names of ``subscribers`` not looked up
        yet (a batch of mails costs one query, not one per mail); with ``wanted``, only
        the names it says are needed."""
        # (not "- self._found.keys()": that walks every name found so far, every mail)
        missing = {name_key_of(n): n for sub in subscribers for n in sub.authors
                   if not _pinned(sub.pin(n)) and name_key_of(n) not in self._found
                   and (wanted is None or wanted(n))}
        if missing:
            found = resolve_stored(self.store, missing.values(), self.papers)
            self._found.update((key, found[name]) for key, name in missing.items())

    def resolutions(self, subscribers: Iterable[Subscriber],
                    wanted: Callable[[str], bool] | None = None
                    ) -> dict[NameKey, Resolution]:
        """Who the unpinned followed names of ``subscribers`` (those ``wanted`` says are
        needed, if given) stand for."""
        subscribers = list(subscribers)
        self.load(subscribers, wanted)
        return {key: self._found[key] for sub in subscribers for n in sub.authors
                if (key := name_key_of(n)) in self._found}

    def people(self, name: str) -> tuple[Candidate, ...]:
        """The people an unpinned followed name may be, when it is several (``load``
        looked it up); none when it is not ambiguous."""
        return self._found[name_key_of(name)].candidates

    def ambiguous(self, sub: Subscriber) -> list[tuple[str, tuple[Candidate, ...]]]:
        """``sub``'s unpinned followed names that are several people, with the people."""
        self.load([sub])
        unpinned = [name for name in dict.fromkeys(sub.authors) if not _pinned(sub.pin(name))]
        return [(n, self.people(n)) for n in unpinned if self.people(n)]

    def of(self, sub: Subscriber) -> tuple[str, ...]:
        """``sub``'s notes, in the order they follow the names."""
        return tuple(note(name) for name, _ in self.ambiguous(sub))


def tasting(subscribers: Iterable[Subscriber]) -> bool:
    """Whether any of ``subscribers`` may get recommendations (liked enough papers)."""
    return any(s.recommended > 0 and len(s.likes) >= defaults.RECOMMEND_MIN_LIKES
               for s in subscribers)


def taste_ids(subscribers: Iterable[Subscriber]) -> set[str]:
    """The arXiv ids (as likes compare them) that ``subscribers`` who may get
    recommendations liked or disliked."""
    tasting_ones = [s for s in subscribers if tasting([s])]
    return {arxiv_key(a) for s in tasting_ones for a in (*s.likes, *s.dislikes)}


def taste(store: Store, now: datetime, papers: Sequence[Paper],
          liked: Iterable[str] = ()) -> TasteIndex:
    """The TF-IDF index of recommendations (``digest.recommend``) fitted on the stored
    terms of ``papers`` (a pass's; with fewer than ``TASTE_BACKGROUND``, and the papers
    stored last before them up to that many), with rows for the stored papers ``liked``
    (arXiv ids, liked or disliked) that appeared in the last ``TASTE_DAYS`` up to
    ``now``."""
    from digest.recommend import index_of

    ids = [p.id for p in papers if p.id is not None]
    rows = store.paper_terms(ids)
    since = now - timedelta(days=defaults.TASTE_DAYS)
    rows += store.latest_terms(defaults.TASTE_BACKGROUND - len(rows), since, now, set(ids))
    return more_taste(store, now, index_of(rows), liked)


def more_taste(store: Store, now: datetime, index: TasteIndex, liked: Iterable[str]
               ) -> TasteIndex:
    """``index`` with rows for the stored papers ``liked`` (arXiv ids) it lacks that
    appeared in the last ``TASTE_DAYS`` up to ``now``; its weights stay as they are."""
    wanted = [a for a in liked if a not in index.by_key]
    if not wanted:
        return index
    since = now - timedelta(days=defaults.TASTE_DAYS)
    return index.extended(store.liked_terms(wanted, since, now))


class _Papers:
    """The papers of a pass, read once and ranked once (``Ranking``): those first seen
    since the earliest last digest of the subscribers planned (``rank.new_since``, at most
    ``REACH_DAYS`` back), with the papers rising lately and those owed read by id; read
    again only if a later batch reaches further back or is owed older papers."""

    def __init__(self, store: Store, now: datetime, keep: dict[int, Paper] | None,
                 as_of: datetime | None = None) -> None:
        self.store, self.now, self.as_of = store, now, as_of
        self.keep = keep if keep is not None else {}
        self.since: datetime | None = None  # papers first seen after it are read
        self.extra: set[int] = set()  # and these, by id, whenever first seen
        self.ranking = Ranking([], now)
        self.rising: list[rising.Momentum] | None = None  # read with the papers, once
        self.taste: TasteIndex | None = None  # built for the first batch that needs it
        self.tasted: set[str] = set()  # the liked arXiv ids looked up for it
        self.notes = Notes(store, self.keep)  # who followed names stand for

    def reaching(self, members: Sequence[Member]) -> Ranking:
        subscribers = [m.subscriber for m in members]
        if members:
            since = min(new_since(m.subscriber, m.cut, self.now) for m in members)
            if self.rising is None:
                self.rising = momentum(self.store, self.now)
                self.extra.update(m.paper_id for m in self.rising)
            if self.since is None or since < self.since:
                self.since = since
                self._read()
            self._taste(subscribers)
        self.ranking.people.update(people_of(self.store, subscribers, self.ranking.people))
        self._resolve(subscribers)
        return self.ranking

    def _resolve(self, subscribers: Sequence[Subscriber]) -> None:
        """Who the followed names of ``subscribers`` stand for, for the ranking: only the
        names some paper of the pass carries (no other name can make a card), so a
        pass reads what is stored of the names its new papers hold, not of every name."""
        self.ranking.names.update(self.notes.resolutions(subscribers, self.ranking.carries))

    def _read(self) -> None:
        """Read the pass's papers and rank them (the people and names found so far kept;
        the index of recommendations, if there is one, fitted again on them)."""
        assert self.since is not None
        papers = read_papers(self.store, self.since, self.extra)
        self.keep.update((p.id, p) for p in papers if p.id is not None)
        self.ranking = Ranking(papers, self.now, self.rising or (), self.ranking.people,
                               names=self.ranking.names)
        if self.taste is not None:
            self.taste = taste(self.store, self.now, self.ranking.papers, self.tasted)
            self.ranking.use_taste(self.taste)

    def _taste(self, subscribers: Sequence[Subscriber]) -> None:
        """Give the ranking the index of recommendations, once one of ``subscribers``
        may get them: fitted on the pass's papers, with rows for every paper liked or
        disliked by them and by earlier batches' subscribers."""
        if self.taste is None and not tasting(subscribers):
            return
        wanted = taste_ids(subscribers) - self.tasted
        if self.taste is None:
            self.tasted |= wanted
            self.taste = taste(self.store, self.now, self.ranking.papers, self.tasted)
        elif wanted:
            self.tasted |= wanted
            self.taste = more_taste(self.store, self.now, self.taste, wanted)
        if self.ranking.taste is not self.taste:
            self.ranking.use_taste(self.taste)

    def histories(self, members: Sequence[Member]) -> dict[str, History]:
        """What these members were sent already (by ``as_of``, when set), as far as these
        papers go; papers owed them that the pass has not read are read then."""
        if not members or self.since is None:
            return {}
        found = self.store.histories_of(
            [m.id for m in members], self.since, self.as_of, also=self.extra,
            owed_since=self.now - timedelta(days=defaults.REACH_DAYS))
        owed = set().union(*(h.owed for h in found.values())) - self.ranking.ids()
        if owed:
            self.extra |= owed
            self._read()
            self._resolve([m.subscriber for m in members])
        return found


def plan_due(store: Store, now: datetime, *, groups: Iterable[str] | None = None,
             only: str | None = None, record: bool = True, papers: dict[int, Paper] | None = None,
             keep: bool = True, shard: tuple[int, int] | None = None,
             ) -> tuple[list[Plan], Counter[str]]:
    """The digests and alerts due at ``now`` (for everyone, these send groups, one
    address, or shard ``(k, n)`` of the subscribers) that the outbox does not have yet;
    with ``record``, put them in it. Returns the plans (with ``keep``) and counts by
    state (and ``already``). ``papers`` receives the papers read, by id. Without
    ``record`` (a dry run), the outbox and history are read as they were at ``now``."""
    as_of = None if record else now
    pass_papers = _Papers(store, now, papers, as_of)
    kept: list[Plan] = []
    counts: Counter[str] = Counter(already=0)
    with pass_heap():
        for members in store.member_batches(BATCH, groups=groups, only=only, shard=shard,
                                            as_of=as_of):
            plans, already = _plan_batch(pass_papers, members, now)
            counts["already"] += already
            counts.update(store.plan_outbox(plans, now) if record else
                          Counter(p.state for p in plans))
            if keep:
                kept += plans
            settle()
    return kept, counts


def _plan_batch(papers: _Papers, members: Sequence[Member], now: datetime
                ) -> tuple[list[Plan], int]:
    scheduled = [m for m in members if m.subscriber.cadence != Cadence.INSTANT]
    due, already = _not_planned(scheduled, now)
    instant = [m for m in members if m.subscriber.cadence == Cadence.INSTANT]
    return _digest_plans(papers, due, now) + _alert_plans(papers, instant, now), already


def _not_planned(members: Sequence[Member], now: datetime
                 ) -> tuple[list[tuple[Member, datetime]], int]:
    """Members whose latest slot has no digest yet, with that slot; and how many have."""
    slots: dict[str, datetime] = {}
    due = []
    for m in members:
        key = m.subscriber.group_key
        if key not in slots:
            slots[key] = latest_slot(m.subscriber, now)
        if m.last_period is None or m.last_period < slots[key]:
            due.append((m, slots[key]))
    return due, len(members) - len(due)


def _digest_plans(papers: _Papers, due: Sequence[tuple[Member, datetime]], now: datetime
                  ) -> list[Plan]:
    """Scheduled digests, one for the latest slot; earlier slots passed over since the
    last digest, and a latest slot found more than ``grace_hours`` late, recorded as
    missed, for someone who took digests by then."""
    def late(m: Member, slot: datetime) -> bool:
        return now - slot > timedelta(hours=m.subscriber.grace_hours) and m.since <= slot

    def missed(m: Member, slot: datetime) -> Plan:
        return Plan(Digest(m.subscriber, slot, slot, ()), slot, missed=True, subscriber_id=m.id)

    on_time = [(m, slot) for m, slot in due if not late(m, slot)]
    papers.reaching([m for m, _ in on_time])
    histories = papers.histories([m for m, _ in on_time])  # (may read owed papers)
    ranking = papers.ranking
    plans = [Plan(ranking.digest(m.subscriber, histories.get(m.subscriber.email.casefold(),
                                                             History())),
                  slot, m.subscriber.send_empty, subscriber_id=m.id) for m, slot in on_time]
    for m, slot in due:
        start = max(m.last_period, m.since) if m.last_period else None
        skipped_over = slots_between(m.subscriber, start, slot - timedelta(minutes=1)) \
            if start is not None else []
        plans += [missed(m, at) for at in skipped_over]
        if late(m, slot):
            plans.append(missed(m, slot))
    return plans


def _alert_plans(papers: _Papers, members: Sequence[Member], now: datetime) -> list[Plan]:
    """Instant alerts: papers new to the subscriber by followed authors (and keyword
    matches when ``alert_keywords``), one mail each. The period is the newest paper's
    first-seen time, so two bots that ingested the same papers plan one alert."""
    plans = []
    papers.reaching(members)
    histories = papers.histories(members)
    ranking = papers.ranking
    for m in members:
        sub = replace(m.subscriber, trending=0, rising=0, recommended=0)
        digest = ranking.digest(sub, histories.get(sub.email.casefold(), History()))
        wanted = MINE if sub.alert_keywords else (SectionName.AUTHORS,)
        sections = tuple(s for s in digest.sections if s.name in wanted and s.items)
        seen = [it.paper.first_seen for s in sections for it in s.items if it.paper.first_seen]
        # what did not fit, of what the alert is for
        more = tuple(it for it in digest.more if sub.alert_keywords or any(
            r.kind == ReasonKind.AUTHOR for r in it.reasons))
        if seen:
            plans.append(Plan(replace(digest, sections=sections, more=more), max(seen),
                              kind=MessageKind.ALERT, subscriber_id=m.id))
    return plans
