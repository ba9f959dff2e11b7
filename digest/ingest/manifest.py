"""The ``sources.yaml`` manifest: per-file format, capture date and profile owner.

A folder holding one is read by it, e.g. ``seeds/sources.yaml``::

    files:
      000_442c504325d89d3a.txt:
        format: profile        # profile | daily-page | hf-json | arxiv-atom
        captured: 2026-05-31   # dates without a year resolve against this day
        owner: Maojiang Su     # credited with every paper on the page
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from digest.errors import ConfigError, unknown_key
from digest.settings import check_year
from digest.yamlcheck import parse_yaml

_KEYS = ("format", "captured", "owner")
_FILES = "a 'files:' mapping of file name -> settings"


@dataclass(frozen=True)
class FileSettings:
    """What a manifest or the command line says of one input file."""

    format: str | None = None
    captured: date | None = None
    owner: str | None = None


def load_manifest(path: Path, formats: tuple[str, ...]) -> dict[str, FileSettings]:
    """File name -> settings; raises ConfigError naming the manifest and the entry (and the
    line, for what YAML itself gets wrong: aliases, nesting, huge numbers, duplicate keys)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the manifest: {e}") from e
    data, _, found = parse_yaml(text, empty=f"the manifest is empty; it needs {_FILES}")
    if found:
        raise ConfigError("\n".join(f.problem.render(path) for f in found))
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise ConfigError(f"{path}: expected {_FILES}")
    return {str(name): _entry(path, str(name), entry, formats) for name, entry in files.items()}


def _entry(path: Path, name: str, entry: Any, formats: tuple[str, ...]) -> FileSettings:
    where = f"{path}: files: {name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(_KEYS)}")
    unknown = sorted(set(map(str, entry)) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}: {unknown_key(unknown[0], _KEYS)}")
    fmt = entry.get("format")
    if fmt is not None and fmt not in formats:
        raise ConfigError(f"{where}: format {fmt!r} is not one of {', '.join(formats)}")
    captured = entry.get("captured")
    if isinstance(captured, str):
        try:
            captured = date.fromisoformat(captured)
        except ValueError as e:
            raise ConfigError(f"{where}: captured {captured!r} is not a YYYY-MM-DD date") from e
    if captured is not None and not isinstance(captured, date):
        raise ConfigError(f"{where}: captured must be a YYYY-MM-DD date")
    if captured is not None:
        check_year(captured.year, f"{where}: captured", captured.isoformat())
    owner = entry.get("owner")
    if owner is not None and not (isinstance(owner, str) and owner.strip()):
        raise ConfigError(f"{where}: owner must be a person's name")
    return FileSettings(fmt, captured, owner.strip() if owner else None)
