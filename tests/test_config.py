"""subscriptions.yaml: every trap caught, with the exact message, file, line and subscriber."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest import defaults
from digest.config import ConfigProblems, check_subscriber, load_config
from digest.errors import ConfigError
from digest.model import Subscriber
from digest.prefs import (
    FIELD,
    FIELDS,
    MAX_PHRASE,
    PREFERENCES_FIELDS,
    SUBSCRIBE_FIELDS,
    SUBSCRIBER_KEYS,
    resolve,
    settings_of,
)
from tests.conftest import ROOT
from tests.hostile import digest_process, laughs, write


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "subs.yaml"
    path.write_text(text)
    with pytest.raises(ConfigProblems) as caught:
        load_config(path)
    return [line.removeprefix(f"{path}:") for line in str(caught.value).splitlines()]


def test_example_file_is_valid() -> None:
    config = load_config(ROOT / "subscriptions.yaml")
    ada = config.subscribers[0]
    assert ada == Subscriber(
        email="ada@example.org", name="Ada", cadence="daily", send_at="08:00", day="monday",
        timezone="Europe/Berlin", max_papers=20, trending=5, max_age_days=400,
        authors=("Maojiang Su", "Jerry Yao-Chieh Hu"),
        keywords=("flow matching", "diffusion transformer"), exclude=("survey",),
        categories=("LG", "CV"))
    assert config.subscribers[1].cadence == "weekly"  # inherited from defaults
    (seeds,) = config.sources
    assert (seeds.name, seeds.kind, seeds.target) == ("seeds", "path", str(ROOT / "seeds"))


def test_whole_archive_sources(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("subscribers: []\nsources:\n"
                    "  - arxiv_oai: cs\n    schedule: \"30 2 * * 1-5\"\n    days: 7\n"
                    "  - arxiv_oai: all\n    schedule: \"30 3 * * *\"\n"
                    "  - biorxiv: medrxiv\n    schedule: \"0 5 * * *\"\n")
    cs, whole, med = load_config(path).sources
    assert (cs.name, cs.kind, cs.target, cs.days) == ("arxiv-oai:cs", "arxiv-oai", "cs", 7)
    assert (whole.target, whole.days) == ("all", 1)
    assert (med.name, med.kind, med.target) == ("biorxiv:medrxiv", "biorxiv", "medrxiv")


def test_defaults_fill_in_and_subscribers_override(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text('defaults:\n  trending: 0\n  send_at: "7:05"\nsubscribers:\n'
                    "  - email: a@example.org\n  - email: b@example.org\n    trending: 3\n")
    a, b = load_config(path).subscribers
    assert (a.trending, a.send_at, a.cadence, a.timezone) == (0, "07:05", "weekly", "UTC")
    assert b.trending == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subscribers:\n  - email: a@example.org\n    timezon: UTC\n",
         ["3: subscriber a@example.org: unknown key 'timezon'; did you mean 'timezone'?"]),
        ("subscribers:\n  - email: a@example.org\n    cadance: weekly\n",
         ["3: subscriber a@example.org: unknown key 'cadance'; did you mean 'cadence'?"]),
        ("subscribers:\n  - email: a@example.org\n    colour: blue\n",
         ["3: subscriber a@example.org: unknown key 'colour'; allowed: email, name, cadence, "
          "send_at, day, timezone, max_papers, trending, rising, recommended, max_age_days, "
          "authors, keywords, exclude, categories, send_empty, alert_keywords, grace_hours, "
          "likes, dislikes, mail, channels"]),
        ("subscribers:\n  - email: a@example.org\n  - email: A@Example.org\n",
         ["3: subscriber A@Example.org: duplicate subscriber (emails compare "
          "case-insensitively; first at line 2)"]),
        ("subscribers:\n  - email: ada.example.org\n",
         ["2: subscriber ada.example.org: email: invalid email 'ada.example.org': An email "
          "address must have an @-sign."]),
        ("subscribers:\n  - email: a@example.org\n    timezone: Europe/Berln\n",
         ["3: subscriber a@example.org: timezone: unknown time zone 'Europe/Berln'; did you "
          "mean 'Europe/Berlin'?"]),
        # By meaning, not spelling: "GMT+2" is two hours ahead (spelling said 'GMT+0'),
        # Beijing keeps Shanghai's time (spelling said 'Asia/Brunei').
        ("subscribers:\n  - email: a@example.org\n    timezone: GMT+2\n",
         ["3: subscriber a@example.org: timezone: unknown time zone 'GMT+2'; for a fixed 2 h "
          "ahead of UTC write 'Etc/GMT-2' (the Etc names' signs are reversed), or better "
          "your city's zone, e.g. 'Europe/Berlin', which keeps summer time"]),
        ("subscribers:\n  - email: a@example.org\n    timezone: Asia/Beijing\n",
         ["3: subscriber a@example.org: timezone: unknown time zone 'Asia/Beijing'; did you "
          "mean 'Asia/Shanghai'?"]),
        ("subscribers:\n  - email: a@example.org\n    timezone: PST\n",
         ["3: subscriber a@example.org: timezone: unknown time zone 'PST'; did you "
          "mean 'America/Los_Angeles'?"]),
        ("subscribers:\n  - email: a@example.org\n    send_at: \"25:00\"\n",
         ["3: subscriber a@example.org: send_at: '25:00' is not a time; write it as \"HH:MM\", "
          "e.g. \"07:30\""]),
        ("subscribers:\n  - email: a@example.org\n    send_at: 7:30\n",
         ["3: subscriber a@example.org: 7:30 is read by YAML as a number (base 60); write "
          "\"7:30\" in quotes"]),
        ("subscribers:\n  - email: a@example.org\n    name: NO\n",
         ["3: subscriber a@example.org: NO is read by YAML as false; write \"NO\" in quotes if "
          "you mean the text"]),
        ("subscribers:\n  - email: a@example.org\n    keywords: [on, transformers]\n",
         ["3: subscriber a@example.org: on is read by YAML as true; write \"on\" in quotes if "
          "you mean the text"]),
        ("subscribers:\n  - email: a@example.org\n    cadence: daily\n    cadence: weekly\n",
         ["4: subscriber a@example.org: duplicate key 'cadence' (first at line 3); YAML would "
          "keep only the last one"]),
        ("subscribers:\n  - email: a@example.org\n    name: !!python/object/apply:os.system "
         "[\"true\"]\n",
         ["3: subscriber a@example.org: tag !!python/object/apply:os.system is not allowed; "
          "this file holds plain data only"]),
        ("subscribers:\n  - [a@example.org]\n",
         ["2: subscriber #1: expected a mapping ('email: ...' and settings), found a list"]),
        ("- email: a@example.org\n",
         ["1: expected a mapping with 'defaults:' and 'subscribers:', found a list"]),
        ("defaults: [weekly]\nsubscribers: []\n",
         ["1: defaults: expected a mapping of settings, found a list"]),
        ("subscribers:\n  - email: a@example.org\n    keywords: flow matching\n",
         ["3: subscriber a@example.org: keywords: expected a list such as [a, b], found text "
          "'flow matching'"]),
        ("subscribers:\n  - name: Ada\n", ["2: subscriber #1: missing required key 'email'"]),
        ("subscriber:\n  - email: a@example.org\n",
         ["1: unknown key 'subscriber'; did you mean 'subscribers'?",
          "1: 'subscribers:' is missing; give a list of '- email: ...' entries"]),
        ("subscribers:\n  - email: a@example.org\n    cadence: hourly\n",
         ["3: subscriber a@example.org: cadence: Input should be 'daily', 'weekly', "
          "'instant' or 'feed-only'"]),
        ("subscribers:\n  - email: a@example.org\n    day: funday\n",
         ["3: subscriber a@example.org: day: 'funday' is not a weekday; use one of monday, "
          "tuesday, wednesday, thursday, friday, saturday, sunday"]),
        ("subscribers: [\n",
         ["2: not valid YAML: did not find expected node content"]),
    ],
)
def test_each_problem_has_its_exact_message(tmp_path: Path, text: str,
                                            expected: list[str]) -> None:
    got = problems(tmp_path, text)
    assert [g.lstrip() for g in got] == [e.lstrip() for e in expected]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, text) == [
        " the file is empty; it needs a 'subscribers:' list (see the example file)"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    got = problems(tmp_path, (
        "defaults:\n  send_at: 8:00\nsubscribers:\n"
        "  - email: a@example.org\n    timezone: Mars/Base\n"
        "  - email: b@\n    vacation: on\n"))
    assert [g.split(":")[0] for g in got] == ["2", "5", "6", "7", "7"]
    assert "defaults: 8:00 is read by YAML as a number" in got[0]
    assert "unknown key 'vacation'" in got[4]


def test_check_command(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok = run("check", str(ROOT / "subscriptions.yaml"))
    assert ok.exit_code == 0
    assert ok.stdout == ("OK: 2 subscribers (1 daily, 1 weekly, 0 instant, 0 feed-only; 3 "
                         "authors and 4 "
                         "keywords followed); 1 source\n")
    one = tmp_path / "one.yaml"
    one.write_text("subscribers:\n  - email: a@example.org\n    authors: [Ada Lovelace]\n"
                   "    keywords: [diffusion]\n")
    assert run("check", str(one)).stdout == (
        "OK: 1 subscriber (0 daily, 1 weekly, 0 instant, 0 feed-only; 1 author and 1 keyword "
        "followed); "
        "0 sources\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscribers:\n  - email: a@example.org\n    day: NO\n")
    result = run("check", str(bad))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {bad}:3: subscriber a@example.org: NO is read by YAML "
                             "as false; write \"NO\" in quotes if you mean the text\n")
    missing = run("check", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1
    assert "no such file; create it" in missing.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - path: .\n    schedule: every hour\n",
         "3: source #1: schedule: 'every hour' is not a crontab line (minute hour day month "
         "weekday), e.g. \"0 6 * * 1-5\""),
        ("sources:\n  - arxiv: cs.LG\n    hf_daily: true\n    schedule: \"0 6 * * *\"\n",
         "2: source #1: give exactly one of path: (a file or folder), hf_daily: true, "
         "arxiv: CATEGORY"),
        ("sources:\n  - path: nowhere/\n    schedule: \"0 6 * * *\"\n",
         "2: source #1: path: {folder}/nowhere does not exist"),
        ("sources:\n  - arxiv: cs.LG\n    schedule: \"0 6 * * *\"\n    timezone: Mars\n",
         "4: source #1: timezone: unknown time zone 'Mars'"),
        ("sources:\n  - arxiv: cs.LG\n    schedule: \"0 6 * * *\"\n    every: 2\n",
         "4: source #1: unknown key 'every'; allowed: name, path, hf_daily, arxiv, arxiv_oai, "
         "biorxiv, days, schedule, timezone"),
        ("sources:\n  - arxiv_oai: \"cs; rm\"\n    schedule: \"0 6 * * *\"\n",
         "2: source #1: arxiv_oai: 'cs; rm' is not an arXiv OAI-PMH set; write one like cs, "
         "math, physics:hep-th, or all for the whole archive"),
        ("sources:\n  - biorxiv: chemrxiv\n    schedule: \"0 6 * * *\"\n",
         "2: source #1: biorxiv: 'chemrxiv' is not a server api.biorxiv.org serves; write "
         "biorxiv or medrxiv"),
        ("sources:\n  - biorxiv: medrxiv\n    schedule: \"0 6 * * *\"\n    days: 900\n",
         "4: source #1: days: days: 900 is out of range; give 1 to 366"),
        ("sources:\n  - arxiv: cs.LG\n    schedule: \"0 6 * * *\"\n    days: 3\n",
         "2: source #1: days: is for a whole-archive source (arxiv_oai:, biorxiv:) only"),
        ("sources: seeds/\n", "1: 'sources:' is a text, not a list of sources"),
    ],
)
def test_sources_are_validated(tmp_path: Path, text: str, expected: str) -> None:
    got = problems(tmp_path, "subscribers: []\n" + text)
    want = expected.format(folder=tmp_path)
    line, rest = want.split(":", 1)
    assert any(g.startswith(f"{int(line) + 1}:{rest}") for g in got), got


# ---- issue 11: hostile files ----------------------------------------------------------

ALIASES = ("aliases (*name, and the &name anchors they repeat) are not allowed; write the "
           "values out")


@pytest.mark.parametrize("where", ["key", "value"])
def test_billion_laughs_is_refused_in_little_memory(tmp_path: Path, where: str) -> None:
    path = write(tmp_path / "subscriptions.yaml", laughs(where=where))
    assert path.stat().st_size < 600
    checked = digest_process("check", str(path), memory_mb=512, timeout=60)
    assert (checked.returncode, checked.stdout) == (1, "")
    assert checked.stderr == f"Error: {path}:2: {ALIASES}\n"


def test_a_key_that_is_a_list_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "? [a, b]\n: x\nsubscribers: []\n") == [
        "1: a key must be plain text, not a list or a mapping"]


def test_deep_nesting_after_an_apostrophe_is_still_refused(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert problems(tmp_path, "subscribers:\n  - email: a@example.org\n    name: O'Brien\n"
                    f"    keywords: {deep}\n") == [
        "4: nested more than 32 levels deep; this file holds flat data"]


def test_a_number_of_thousands_of_digits_names_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path, "subscribers:\n  - email: a@example.org\n"
                    f"    max_papers: {'9' * 5000}\n") == [
        "3: a number of 5000 digits; numbers here are small"]



# ---- issue 11: a file read half-written -----------------------------------------------

@pytest.mark.parametrize("key", ["keywords", "authors", "send_at", "day", "timezone", "name",
                                 "email", "max_papers"])
def test_a_key_without_a_value_names_its_line(tmp_path: Path, key: str) -> None:
    text = "subscribers:\n  - email: a@example.org\n" if key != "email" else "subscribers:\n"
    who = "subscriber a@example.org" if key != "email" else "subscriber #1"
    prefix = "    " if key != "email" else "  - "
    assert problems(tmp_path, text + f"{prefix}{key}:\n") == [
        f"{text.count(chr(10)) + 1}: {who}: {key}: no value; write one after the colon, or "
        "leave the key out"]


def test_every_cut_of_a_file_is_read_or_refused_with_its_line(tmp_path: Path) -> None:
    full = (ROOT / "subscriptions.yaml").read_text().replace("name: Ada", "name: Ådå Ørsted")
    (tmp_path / "seeds").mkdir()  # the example's source
    data = full.encode("utf-8")
    path = tmp_path / "subscriptions.yaml"
    for end in range(len(data)):
        path.write_bytes(data[:end])
        refused = refusal(path)
        if isinstance(refused, ConfigProblems):
            assert all(p.line is not None or p.message.startswith("the file is empty")
                       for p in refused.problems), (end, str(refused))
        elif refused is not None:
            assert re.match(rf"{re.escape(str(path))}:\d+: ", str(refused)), (end, str(refused))


def refusal(path: Path) -> ConfigError | None:
    """Why ``path`` is not a valid subscriptions file, or None when it is one."""
    try:
        load_config(path)
    except ConfigError as e:
        return e
    return None


def test_send_names_the_file_and_line_of_a_half_written_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "subscriptions.yaml"
    config.write_text("defaults:\n  cadence: daily\nsubscribers:\n  - email: a@example.org\n"
                      "    keywords:\n")
    env = {"DIGEST_CONFIG": str(config), "DIGEST_MAILDIR": str(tmp_path / "outbox")}
    result = run("send", env=env)
    assert (result.exit_code, result.stderr) == (1, f"Error: {config}:5: subscriber "
                                                 "a@example.org: keywords: no value; write one "
                                                 "after the colon, or leave the key out\n")
    config.write_bytes("subscribers:\n  - email: a@example.org\n    name: Å".encode()[:-1])
    result = run("send", env=env)
    assert (result.exit_code, result.stderr) == (1, f"Error: {config}:3: not UTF-8 text "
                                                 "(unexpected end of data at byte 48); save it "
                                                 "as UTF-8, or wait until it is written whole\n")


def test_one_schema_lists_every_setting_of_a_subscriber() -> None:
    stored = set(Subscriber.__dataclass_fields__) - {"line", "ref", "managed", "pins"}
    assert set(FIELD) == set(SUBSCRIBER_KEYS) == stored
    assert [f.key for f in FIELDS][:6] == ["email", "name", "cadence", "day", "send_at",
                                          "timezone"]  # the order of an export
    assert set(SUBSCRIBE_FIELDS) < set(PREFERENCES_FIELDS) | {"email"}
    assert (FIELD["max_papers"].low, FIELD["max_papers"].high) == (1, 500)
    assert FIELD["trending"].default == defaults.TRENDING
    assert [f.key for f in FIELDS if f.per_line] == ["authors", "keywords", "exclude",
                                                     "likes", "dislikes"]


def test_the_file_and_the_forms_check_the_same_bounds() -> None:
    spec = FIELD["keywords"]
    assert spec.max_chars == MAX_PHRASE == 300 and spec.max_entries is not None
    longest = {"email": "a@example.org", "keywords": ["k" * MAX_PHRASE]}
    assert check_subscriber(longest)[0] is not None
    too_long = {**longest, "keywords": ["k" * (MAX_PHRASE + 1)]}
    assert check_subscriber(too_long)[1]["keywords"].endswith("longer than 300 characters")
    many = {"email": "a@example.org", "authors": [f"A{i}" for i in range(spec.max_entries)]}
    assert check_subscriber(many)[0] is not None
    many["authors"].append("One More")
    assert check_subscriber(many)[1] == {"authors": f"authors: at most {spec.max_entries} "
                                                    "entries"}


def test_settings_resolve_own_then_defaults_then_the_schema() -> None:
    sub = resolve({"cadence": "daily", "trending": 0}, {"email": "a@example.org",
                                                       "trending": 2, "authors": ["Ada"]})
    assert (sub.cadence, sub.trending, sub.rising, sub.authors) == (
        "daily", 2, defaults.RISING, ("Ada",))
    assert resolve({}, settings_of(sub)) == sub  # the store's form reads back the same
