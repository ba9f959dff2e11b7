"""The whole real data set (../shared/data); skipped, saying so, when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import totals


def test_all_hf_daily_ingests_to_3736_papers(run, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", str(shared_data / "hf-daily"))
    assert result.exit_code == 0, result.stderr
    assert totals(result.stdout) == (3740, 3736, 4, 0)
    papers = [json.loads(line) for line in run("papers", "--json").stdout.splitlines()]
    assert len(papers) == 3736
    twice = {p["arxiv_id"]: p for p in papers if len(p["sources"]) == 2}
    assert sorted(twice) == ["2604.07429", "2606.11176", "2608.12313", "2608.13558"]
    gameworld = twice["2604.07429"]
    assert gameworld["sources"] == ["2026-04-10.json", "2026-04-16.json"]
    assert gameworld["featured"] == "2026-04-10"  # first featured
    assert gameworld["upvotes"] == 42  # the higher count, from the second featuring
    assert gameworld["github_repo"] == "https://github.com/gameworld-project/gameworld"


def test_arxiv_snapshot(run, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", str(shared_data / "arxiv"))
    assert result.exit_code == 0
    assert totals(result.stdout) == (7, 7, 0, 0)
