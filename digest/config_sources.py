"""``sources:`` of subscriptions.yaml: what the bot ingests on a schedule, each entry a
file or folder, the Hugging Face daily papers, an arXiv category, all of arXiv (or one
OAI-PMH set of it) or all of bioRxiv or medRxiv, with a crontab line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import ValidationError, field_validator, model_validator

from digest import defaults
from digest.config_problems import kind_of, schema_errors
from digest.model import Source
from digest.prefs import Strict, check_timezone
from digest.vocab import WHOLE_ARCHIVE, PreprintServer, SourceKind
from digest.yamlcheck import Found, Lines, Path_, Problem

# An arXiv OAI-PMH set as arXiv names them: cs, math, physics:hep-th, q-bio, ...
_OAI_SET = re.compile(r"[a-z][a-z-]*(?::[a-zA-Z][a-zA-Z-]*)*")


def check_oai_set(value: str) -> str:
    """``value`` when it names an arXiv OAI-PMH set (or ``all``); ValueError otherwise."""
    if value != WHOLE_ARCHIVE and not _OAI_SET.fullmatch(value):
        raise ValueError(f"{value!r} is not an arXiv OAI-PMH set; write one like cs, math, "
                         f"physics:hep-th, or {WHOLE_ARCHIVE} for the whole archive")
    return value


class SourceModel(Strict):
    """One entry of ``sources:``: exactly one of path, hf_daily, arxiv, arxiv_oai,
    biorxiv, and a schedule (``days``: how far a whole-archive source's first harvest
    reaches back)."""

    name: str | None = None
    path: str | None = None
    hf_daily: bool | None = None
    arxiv: str | None = None
    arxiv_oai: str | None = None
    biorxiv: str | None = None
    days: int | None = None
    schedule: str
    timezone: str = "UTC"

    @field_validator("arxiv_oai")
    @classmethod
    def _oai_set(cls, value: str | None) -> str | None:
        return None if value is None else check_oai_set(value)

    @field_validator("biorxiv")  # not vocab: the key of sources:
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        if value is not None and value not in set(PreprintServer):
            raise ValueError(f"{value!r} is not a server api.biorxiv.org serves; write "
                             f"{' or '.join(PreprintServer)}")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= defaults.HARVEST_MAX_DAYS:
            raise ValueError(f"days: {value} is out of range; give 1 to "
                             f"{defaults.HARVEST_MAX_DAYS}")
        return value

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
        kinds = (self.path, self.hf_daily, self.arxiv, self.arxiv_oai, self.biorxiv)
        if sum(1 for given in kinds if given) != 1:
            raise ValueError("give exactly one of path: (a file or folder), hf_daily: true, "
                             "arxiv: CATEGORY, arxiv_oai: SET (or all), biorxiv: "
                             f"{' or '.join(PreprintServer)}")
        if self.days is not None and not (self.arxiv_oai or self.biorxiv):
            raise ValueError("days: is for a whole-archive source (arxiv_oai:, biorxiv:) "
                             "only: how far its first harvest reaches back")
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
                         f"(path/hf_daily/arxiv/arxiv_oai/biorxiv, schedule), found a "
                         f"{kind_of(item)}")))
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
    elif valid.arxiv_oai:
        kind_, target = SourceKind.ARXIV_OAI, valid.arxiv_oai
    elif valid.biorxiv:
        kind_, target = SourceKind.BIORXIV, valid.biorxiv
    else:
        kind_, target = SourceKind.HF_DAILY, ""
    name = valid.name or (f"{kind_}:{target}" if target else str(kind_))
    return Source(name, kind_, target, valid.schedule, valid.timezone,
                  valid.days or defaults.HARVEST_DAYS)
