"""``sources:`` of subscriptions.yaml: what the bot ingests on a schedule, each entry a
file or folder, the Hugging Face daily papers, or an arXiv category, with a crontab line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import ValidationError, field_validator, model_validator

from digest.config_problems import kind_of, schema_errors
from digest.model import Source
from digest.prefs import Strict, check_timezone
from digest.vocab import SourceKind
from digest.yamlcheck import Found, Lines, Path_, Problem


class SourceModel(Strict):
    """One entry of ``sources:``: exactly one of path, hf_daily, arxiv, and a schedule."""

    name: str | None = None
    path: str | None = None
    hf_daily: bool | None = None
    arxiv: str | None = None
    schedule: str
    timezone: str = "UTC"

    @field_validator("schedule")
    @classmethod
    def _crontab(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value)
        except ValueError as e:
            raise ValueError(f"{value!r} is not a crontab line (minute hour day month "
                             f"weekday), e.g. \"0 6 * * 1-5\": {e}") from e
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _one_kind(self) -> SourceModel:
        if sum(1 for given in (self.path, self.hf_daily, self.arxiv) if given) != 1:
            raise ValueError("give exactly one of path: (a file or folder), hf_daily: true, "
                             "arxiv: CATEGORY")
        return self


SOURCE_KEYS = tuple(SourceModel.model_fields)


def read_sources(data: dict[str, Any], folder: Path, lines: Lines, found: list[Found]
                 ) -> list[Source]:
    """The valid sources of the file's ``data`` (paths relative to ``folder``); problems
    go to ``found``."""
    raw = data.get("sources")
    if raw is None:
        return []
    if not isinstance(raw, list):
        found.append(Found(("sources",), Problem(lines.of(("sources",)), None,
                     f"'sources:' is a {kind_of(raw)}, not a list of sources")))
        return []
    sources: list[Source] = []
    for i, item in enumerate(raw):
        path: Path_ = ("sources", i)
        who = f"source #{i + 1}"
        if not isinstance(item, dict):
            found.append(Found(path, Problem(lines.of(path), who, "expected a mapping "
                         f"(path/hf_daily/arxiv, schedule), found a {kind_of(item)}")))
            continue
        try:
            valid = SourceModel.model_validate(item)
        except ValidationError as e:
            found.extend(schema_errors(e, path, who, SOURCE_KEYS, lines))
            continue
        source = _source(valid)
        if source.kind == SourceKind.PATH:
            target = (folder / source.target).resolve()
            if not target.exists():
                at: Path_ = (*path, SourceKind.PATH)
                found.append(Found(at, Problem(lines.of(at), who,
                             f"path: {target} does not exist")))
                continue
            source = Source(source.name, SourceKind.PATH, str(target), source.schedule,
                            source.timezone)
        if any(s.name == source.name for s in sources):
            found.append(Found(path, Problem(lines.of(path), who, f"two sources are named "
                         f"{source.name!r}; give one of them another name:")))
        sources.append(source)
    return sources


def _source(valid: SourceModel) -> Source:
    if valid.path:
        kind_, target = SourceKind.PATH, valid.path
    elif valid.arxiv:
        kind_, target = SourceKind.ARXIV, valid.arxiv
    else:
        kind_, target = SourceKind.HF_DAILY, ""
    name = valid.name or (f"{kind_}:{target}" if target else str(kind_))
    return Source(name, kind_, target, valid.schedule, valid.timezone)
