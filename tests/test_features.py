"""The papers' terms for recommendations (``paper_features``, ``digest.store.features``):
written with the papers in the ingest's transaction and again when a title or abstract
changes, made when first needed for a paper stored without them, and a database from
before them (revision 0010) upgraded, on SQLite and on a throwaway PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from digest.cli import cli
from digest.model import Paper, Subscriber
from digest.plan import build_digests
from digest.store import Store, revisions
from digest.store import schema as s
from digest.terms import hashed, paper_text, unpack
from tests.conftest import DATA
from tests.test_rank import ingest

NOW = datetime(2026, 4, 17, 9, tzinfo=UTC)
DAY = DATA / "hf-daily" / "2026-04-15.json"


def stored_terms(store: Store) -> dict[int, bytes]:
    """Every row of paper_features, by paper id, as the database holds it."""
    with store.engine.connect() as conn:
        return {i: bytes(t) for i, t in conn.execute(select(s.paper_features))}


def expected(papers: list[Paper]) -> dict[int, bytes]:
    """The terms each paper's title and abstract give (``digest.terms``)."""
    return {p.id: t for p, t in zip(papers, hashed([paper_text(p.title, p.abstract)
                                                    for p in papers]), strict=True)
            if p.id is not None}


def liker(store: Store) -> Subscriber:
    liked = [p.arxiv_id or "" for p in store.papers() if "video" in p.title.lower()][:3]
    return Subscriber("v@example.org", trending=0, rising=0, max_age_days=3650,
                      likes=tuple(liked), recommended=3)


def test_an_ingest_writes_every_papers_terms_and_a_new_abstract_rewrites_them(
        url: str, tmp_path: Path) -> None:
    store = Store(url)
    ingest(store, DAY, now=NOW)
    papers = store.papers()
    assert len(papers) == 26 and stored_terms(store) == expected(papers)
    buckets, counts, _ = unpack([stored_terms(store)[papers[0].id]])  # type: ignore[index]
    assert buckets.size > 20 and (counts >= 1).all() and (buckets[1:] > buckets[:-1]).all()
    # The same file again with one abstract changed: that paper's terms follow it.
    changed = tmp_path / DAY.name
    first = papers[0]
    entries = json.loads(DAY.read_text(encoding="utf-8"))
    (entry,) = [e for e in entries if e["paper"]["id"] == first.arxiv_id]
    entry["paper"]["summary"] = "Zebra quokka narwhal. " + entry["paper"]["summary"]
    changed.write_text(json.dumps(entries), encoding="utf-8")
    ingest(store, changed, now=NOW + timedelta(hours=1))
    after = store.papers()
    assert after[0].abstract.startswith("Zebra quokka narwhal.") and after[1:] == papers[1:]
    terms = stored_terms(store)
    assert terms == expected(after) and terms[first.id] != expected(papers)[first.id]  # type: ignore[index]
    store.engine.dispose()


def test_terms_missing_are_made_when_a_pass_needs_them(url: str) -> None:
    store = Store(url)
    ingest(store, DATA / "hf-daily", now=NOW)
    written = stored_terms(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM paper_features"))
    (digest,) = build_digests(store, [liker(store)], NOW)
    assert digest.count("recommended") == 3
    assert stored_terms(store) == written  # every paper of the pass, as the ingest wrote
    assert [t.paper_id for t in store.paper_terms([5, 3, 99_999, 5])] == [5, 3]
    store.engine.dispose()


def test_a_database_from_before_terms_upgrades_and_recommends(url: str) -> None:
    store = Store(url)
    ingest(store, DATA / "hf-daily" / "2026-03-13.json", now=NOW - timedelta(days=30))
    with store.engine.begin() as conn:
        revisions.downgrade(conn, "0010")
        assert "paper_features" not in inspect(conn).get_table_names()
    store.engine.dispose()
    env = {"DIGEST_DB": url}
    refused = CliRunner().invoke(cli, ["papers"], env=env)
    assert refused.exit_code == 1 and "schema revision 0010" in refused.output
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0
    assert f"upgraded from 0010 to {revisions.head()}" in upgraded.output
    store = Store(url)
    assert stored_terms(store) == {}  # nothing read at the upgrade
    ingest(store, DATA / "hf-daily" / "2026-04-10.json", now=NOW - timedelta(days=7))
    old, new = (ps := store.papers())[:36], ps[36:]
    assert set(stored_terms(store)) == {p.id for p in new}  # the new day's, at its ingest
    (digest,) = build_digests(store, [liker(store)], NOW)
    assert digest.count("recommended") == 3
    assert stored_terms(store) == expected(old + new)  # the old ones, when first needed
    store.engine.dispose()


def test_an_unversioned_database_with_terms_is_recognised(url: str) -> None:
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        assert revisions.upgrade(conn) == (None, revisions.head())
    store.engine.dispose()


def test_a_paper_without_text_has_empty_terms_made_once(db_url: str) -> None:
    store = Store(db_url)
    store.save_papers([Paper(title="The a of", arxiv_id="2604.00001", sources=("x",))],
                      source="x", fmt="hf-json", now=NOW)
    (paper,) = store.papers()
    assert stored_terms(store) == {paper.id: b""}
    (terms,) = store.paper_terms([paper.id])  # type: ignore[list-item]
    assert terms == replace(terms, paper_id=paper.id, arxiv_id="2604.00001", packed=b"")


def test_terms_are_the_words_and_pairs_scikit_learn_read() -> None:
    """``terms.analyse`` gives, for every paper of the test days, the very terms the
    index's TfidfVectorizer read before terms were stored (accents, stop words, pairs)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from digest.ingest.common import ParseContext
    from digest.ingest.hf_json import parse_hf_json
    from digest.terms import analyse

    sklearn = TfidfVectorizer(strip_accents="unicode", stop_words="english",
                              ngram_range=(1, 2),
                              token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b").build_analyzer()
    texts = ["Über naïve Café-Modelle: the RÉSUMÉ of a_b 3d x2 models",
             *(paper_text(p.title, p.abstract) for path in sorted((DATA / "hf-daily").glob("*"))
               for p in parse_hf_json(path.read_text(encoding="utf-8"),
                                      ParseContext(path.name, NOW.date())))]
    assert len(texts) > 170
    for t in texts:
        assert analyse(t) == sklearn(t), t[:80]
    assert analyse(texts[0]) == ["uber", "naive", "cafe", "modelle", "resume", "a_b", "x2",
                                 "models", "uber naive", "naive cafe", "cafe modelle",
                                 "modelle resume", "resume a_b", "a_b x2", "x2 models"]


def test_an_ingest_does_not_load_scikit_learn(db_url: str) -> None:
    """Counting a paper's words is plain Python: an ingest stays light."""
    script = ("import sys; from datetime import UTC, datetime; from digest.store import Store;"
              "from digest.model import Paper;"
              f"Store({db_url!r}).save_papers([Paper(title='Flow matching for video', "
              "abstract='We match flows.', arxiv_id='2604.00002')], source='x', fmt='hf-json',"
              " now=datetime(2026, 4, 1, tzinfo=UTC));"
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy'}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "[]\n"
    assert len(stored_terms(Store(db_url))) == 1
