"""Whole-archive sources (arXiv OAI-PMH, bioRxiv/medRxiv) against a real local HTTP
server serving recorded real responses (``tests/data/oai``, ``tests/data/biorxiv``;
their README says where each came from)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.ingest.fetch import Fetcher
from digest.ingest.harvest import ingest_arxiv_oai, ingest_biorxiv
from digest.ingest.runner import Report
from digest.settings import HttpSettings
from digest.store import Store
from tests.conftest import DATA
from tests.httpserver import DataServer

OAI = DATA / "oai"
BIO = DATA / "biorxiv"
NOW = datetime(2016, 10, 21, 9, tzinfo=UTC)
START = date(2016, 10, 20)
TOKEN = "1403493|1001"  # the real token of page 1


def http(server: DataServer, **more: Any) -> HttpSettings:
    return HttpSettings(oai_base=f"{server.url}/oai", biorxiv_base=server.url,
                        hf_base=server.url, arxiv_base=server.url, attempts=2, backoff=0,
                        pause=0, timeout=2, **more)


def env(server: DataServer) -> dict[str, str]:
    return {"DIGEST_ARXIV_OAI_URL": f"{server.url}/oai", "DIGEST_BIORXIV_URL": server.url,
            "DIGEST_HF_URL": server.url, "DIGEST_HARVEST_PAUSE": "0",
            "DIGEST_HTTP_BACKOFF": "0", "DIGEST_HTTP_ATTEMPTS": "2"}


def two_pages(server: DataServer) -> None:
    server.oai_pages = {START.isoformat(): OAI / "arXivRaw-page1.xml",
                        TOKEN: OAI / "arXivRaw-page2.xml"}


def harvest(server: DataServer, store: Store, start: date | None = START,
            now: datetime = NOW, **more: Any) -> list[Report]:
    with Fetcher(http(server, **more)) as fetcher:
        return ingest_arxiv_oai(store, fetcher, "all", now, start)


def test_a_harvest_follows_the_resumption_token(server: DataServer, db_url: str) -> None:
    two_pages(server)
    store = Store(db_url)
    reports = harvest(server, store)
    assert [(r.read, r.new, r.error) for r in reports] == [(5, 5, None), (5, 5, None)]
    assert server.requests == [
        "/oai?verb=ListRecords&metadataPrefix=arXivRaw&from=2016-10-20",
        "/oai?verb=ListRecords&resumptionToken=1403493%7C1001"]
    papers = {p.arxiv_id: p for p in store.papers()}
    assert len(papers) == 10
    tsp = papers["0803.4354"]
    assert tsp.authors == ("Moustapha Diaby",) and tsp.category == "cs.DM"
    assert tsp.published == date(2008, 3, 30)  # v1's day, not the latest version's
    assert tsp.announce_type == "replace" and tsp.abstract.startswith("In this paper, we")
    assert tsp.doi is None  # a journal DOI an arXiv record carries is not its identity
    assert store.meta("harvest:arxiv-oai:all") == "2016-10-21"


def test_a_second_harvest_resumes_from_the_datestamp_and_adds_nothing(
        server: DataServer, db_url: str) -> None:
    two_pages(server)
    store = Store(db_url)
    harvest(server, store)
    server.requests.clear()
    server.oai_pages["2016-10-21"] = OAI / "arXivRaw-page1.xml"  # that day, asked again
    reports = harvest(server, store, start=None)
    assert server.requests[0].endswith("from=2016-10-21")
    assert sum(r.new for r in reports) == 0 and sum(r.merged for r in reports) == 10
    assert store.count_papers() == 10


def test_a_set_is_asked_for_and_a_first_harvest_reaches_back_days(
        server: DataServer, db_url: str) -> None:
    with Fetcher(http(server)) as fetcher:
        reports = ingest_arxiv_oai(Store(db_url), fetcher, "physics:hep-th", NOW, days=3)
    assert server.requests == ["/oai?verb=ListRecords&metadataPrefix=arXivRaw"
                               "&from=2016-10-18&set=physics%3Ahep-th"]
    assert [(r.read, r.error) for r in reports] == [(0, None)]


def test_an_empty_day_is_no_error_and_moves_no_mark(server: DataServer, db_url: str) -> None:
    store = Store(db_url)
    reports = harvest(server, store)  # no page for that day: noRecordsMatch, recorded
    assert [(r.read, r.new, r.error) for r in reports] == [(0, 0, None)]
    assert store.count_papers() == 0 and store.meta("harvest:arxiv-oai:all") is None


def test_a_deleted_record_is_skipped(server: DataServer, db_url: str) -> None:
    server.oai_pages = {START.isoformat(): OAI / "arXivRaw-deleted.xml"}
    store = Store(db_url)
    reports = harvest(server, store)
    assert [(r.read, r.new) for r in reports] == [(1, 1)]
    assert [p.arxiv_id for p in store.papers()] == ["1109.1792"]  # 1107.1489 was deleted


def test_a_503_with_retry_after_is_waited_for(server: DataServer, db_url: str) -> None:
    two_pages(server)
    server.fail("/oai", "503")
    reports = harvest(server, Store(db_url))
    assert [r.error for r in reports] == [None, None]
    assert len(server.requests) == 3 and server.requests[0] == server.requests[1]


def test_a_retry_after_longer_than_digest_waits_is_a_clear_error(
        server: DataServer, db_url: str) -> None:
    two_pages(server)
    server.retry_after = "3600"
    server.fail("/oai", "503")
    store = Store(db_url)
    reports = harvest(server, store)
    assert len(server.requests) == 1  # no sleeping an hour, no second try
    error = reports[-1].error or ""
    assert error.startswith(f"{server.url}/oai?verb=ListRecords") and "HTTP 503" in error
    assert "retry after 3600 s" in error and "DIGEST_HARVEST_RETRY_AFTER_MAX" in error
    assert store.meta("harvest:arxiv-oai:all") is None


def test_hugging_face_and_oai_store_the_paper_once(run: Any, server: DataServer) -> None:
    server.oai_pages = {"2026-04-10": OAI / "arXivRaw-hf-2604.08377.xml"}
    first = run("ingest", "--hf-date", "2026-04-10", "--json", env=env(server))
    assert first.exit_code == 0, first.output
    count = json.loads(first.stdout)["papers"]
    result = run("ingest", "--arxiv-oai", "cs", "--from", "2026-04-10", "--json",
                 env=env(server))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["papers"] == count  # merged into the Hugging Face paper, not a second one
    assert [(s["read"], s["new"], s["merged"]) for s in out["sources"]] == [(1, 0, 1)]
    papers = [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]
    skill = next(p for p in papers if p["arxiv_id"] == "2604.08377")
    assert len(skill["sources"]) == 2 and skill["category"] == "cs.AI"


def details(server: DataServer) -> None:
    server.details_pages = {("medrxiv", 0): BIO / "medrxiv-2019-06-25-0.json",
                            ("medrxiv", 3): BIO / "medrxiv-2019-06-25-3.json"}


def test_biorxiv_pages_by_cursor_and_keys_papers_by_doi(server: DataServer,
                                                          db_url: str) -> None:
    details(server)
    store = Store(db_url)
    now = datetime(2019, 6, 25, 20, tzinfo=UTC)
    with Fetcher(http(server)) as fetcher:
        reports = ingest_biorxiv(store, fetcher, "medrxiv", now)
        assert [(r.read, r.new) for r in reports] == [(3, 3), (2, 2)]
        assert server.requests == ["/details/medrxiv/2019-06-24/2019-06-25/0",
                                   "/details/medrxiv/2019-06-24/2019-06-25/3"]
        again = ingest_biorxiv(store, fetcher, "medrxiv", now)
    assert server.requests[2] == "/details/medrxiv/2019-06-25/2019-06-25/0"  # resumed
    assert sum(r.new for r in again) == 0 and sum(r.merged for r in again) == 5
    papers = {p.doi: p for p in store.papers()}
    assert len(papers) == 5 and all(p.arxiv_id is None for p in papers.values())
    seizures = papers["10.1101/19000430"]
    assert seizures.authors == ("Olivera Stojanovic", "Gordon Pipa")
    assert seizures.published == date(2019, 6, 25)
    assert seizures.category == "health informatics"


def test_a_doi_links_the_card(server: DataServer, db_url: str) -> None:
    from digest.render.cards import _links
    server.details_pages = {("biorxiv", 0): BIO / "biorxiv-2013-11-07-0.json"}
    store = Store(db_url)
    with Fetcher(http(server)) as fetcher:
        ingest_biorxiv(store, fetcher, "biorxiv", datetime(2013, 11, 7, 20, tzinfo=UTC))
    paper = next(p for p in store.papers() if p.doi == "10.1101/000109")
    links = _links(paper)
    assert (links[0].label, links[0].url) == ("DOI", "https://doi.org/10.1101/000109")
    assert all("arxiv.org" not in link.url for link in links)


DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def laughs(page: str) -> str:
    """The page with a "billion laughs" DTD (ten lol9 each ten lol8 ... 10^9 lols)."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    dtd = f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(entities)}]>'
    return page.replace(DECLARATION, dtd).replace("<title>A O(n^8)", "<title>&lol9; A O(n^8)")


HOSTILE: dict[str, Callable[[str], str]] = {
    "cut off": lambda page: page[: len(page) // 2],
    "billion laughs": laughs,
    "external entity": lambda page: page.replace(
        DECLARATION, '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    ).replace("<title>A O(n^8)", "<title>&x; A O(n^8)"),
    "not OAI-PMH": lambda page: "<html><body>Service unavailable</body></html>",
}
DTD = "refused: the XML has a document type declaration"
SAYS = {"cut off": "not well-formed XML", "billion laughs": DTD, "external entity": DTD,
        "not OAI-PMH": "not an OAI-PMH answer"}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_oai_page_is_an_error_naming_the_source(
        run: Any, server: DataServer, tmp_path: Path, kind: str) -> None:
    page = HOSTILE[kind]((OAI / "arXivRaw-page1.xml").read_text())
    (tmp_path / "page.xml").write_text(page)
    server.oai_pages = {"2016-10-20": tmp_path / "page.xml"}
    result = run("ingest", "--arxiv-oai", "cs", "--from", "2016-10-20", env=env(server))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"Error: {server.url}/oai?verb=ListRecords" in result.stderr
    assert run("papers", "--json").stdout == ""
    assert SAYS[kind] in result.stderr


def test_a_huge_page_is_cut_off(run: Any, server: DataServer) -> None:
    two_pages(server)
    result = run("ingest", "--arxiv-oai", "all", "--from", "2016-10-20",
                 env={**env(server), "DIGEST_HTTP_MAX_BYTES": "4096"})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "larger than 4096 bytes" in result.stderr and "DIGEST_HTTP_MAX_BYTES" in result.stderr


@pytest.mark.parametrize("body", ['{"messages": 5}', "[1, 2", '{"messages":[{"status":"ok",'
                                  '"count":1,"total":1}],"collection":[{"title":"x"}]}'])
def test_a_hostile_details_page_is_an_error_naming_the_source(
        run: Any, server: DataServer, tmp_path: Path, body: str) -> None:
    (tmp_path / "page.json").write_text(body)
    server.details_pages = {("biorxiv", 0): tmp_path / "page.json"}
    result = run("ingest", "--biorxiv", "biorxiv", "--from", "2013-11-07", "--now",
                 "2013-11-07T20:00:00Z", env=env(server))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: {server.url}/details/biorxiv/2013-11-07/2013-11-07/0" in result.stderr


def test_a_bad_set_or_server_is_a_usage_error(run: Any) -> None:
    result = run("ingest", "--arxiv-oai", "cs; rm -rf")
    assert result.exit_code == 2 and "is not an arXiv OAI-PMH set" in result.output
    result = run("ingest", "--biorxiv", "chemrxiv")
    assert result.exit_code == 2 and "'chemrxiv' is not one of" in result.output


def test_pages_without_end_stop_at_the_most_a_harvest_reads(
        server: DataServer, db_url: str) -> None:
    server.oai_pages = {START.isoformat(): OAI / "arXivRaw-page1.xml",
                        TOKEN: OAI / "arXivRaw-page1.xml"}  # a token that never ends
    store = Store(db_url)
    reports = harvest(server, store, max_pages=3)
    assert len(server.requests) == 3
    assert "still more pages after 3 (DIGEST_HTTP_MAX_PAGES)" in (reports[-1].error or "")
    assert store.meta("harvest:arxiv-oai:all") is None  # asked again next time


def test_a_saved_oai_page_in_the_arxiv_format_is_read(run: Any) -> None:
    result = run("ingest", str(OAI / "arXiv-astro-ph.xml"), "--json")
    assert result.exit_code == 0, result.output
    assert [s["format"] for s in json.loads(result.stdout)["sources"]] == ["oai-pmh"]
    (paper,) = [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]
    assert paper["arxiv_id"] == "0801.3931" and paper["category"] == "astro-ph"
    assert paper["authors"] == ["T. Manos", "E. Athanassoula"]
    assert paper["title"] == "Dynamical study of 2D and 3D barred galaxy models"
    assert paper["published"] == "2008-01-25" and paper["doi"] is None


def test_retry_after_as_a_date_counts_from_the_answers_own_date() -> None:
    from digest.ingest.fetch import _retry_after
    sent = "Wed, 21 Oct 2015 07:27:50 GMT"
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT", sent) == 10
    assert _retry_after("120", sent) == 120
    assert _retry_after("soon", sent) is None and _retry_after("", "") is None


def test_two_versions_of_a_preprint_in_one_page_are_one_paper(
        server: DataServer, db_url: str, tmp_path: Path) -> None:
    page = json.loads((BIO / "biorxiv-2013-11-07-0.json").read_text())
    first = page["collection"][0]
    page["collection"] = [first, {**first, "version": "2", "date": "2013-11-08"}]
    page["messages"][0].update(count=2, total=2)
    (tmp_path / "page.json").write_text(json.dumps(page))
    server.details_pages = {("biorxiv", 0): tmp_path / "page.json"}
    store = Store(db_url)
    with Fetcher(http(server)) as fetcher:
        (report,) = ingest_biorxiv(store, fetcher, "biorxiv",
                                   datetime(2013, 11, 8, 20, tzinfo=UTC))
    assert (report.read, report.new, report.merged) == (2, 1, 1)
    (paper,) = store.papers()
    assert paper.doi == "10.1101/000109" and paper.published == date(2013, 11, 7)
