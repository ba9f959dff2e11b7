"""Properties that hold for any input (hypothesis): name folding, keyword highlighting
against the matcher, merging; every parser and the YAML loader give a result or a clean
error (DigestError), never another exception."""

from __future__ import annotations

import base64
import re
import textwrap
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from digest.match import PaperIndex, words
from digest.merge import merge
from digest.model import Paper
from digest.render import _wrap
from digest.render.cards import _highlighted, snippet_text
from digest.render.subject import one_line
from digest.text import latex_to_text, name_key

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
# Text as papers have it: ASCII, accented and other scripts, digits, spaces and
# punctuation (no backslashes or dollars: LaTeX is decoded before either side reads it).
LETTERS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789éèüößçñÅØłđ日本語中文Ωλ"))
SEPARATORS = st.sampled_from([*" -.,;:/()'’\"–—…!?", "  ", " - "])
WORDS = st.lists(st.text(LETTERS, min_size=1, max_size=9), min_size=1, max_size=25)


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(WORDS)
    out = parts[0]
    for part in parts[1:]:
        out += draw(SEPARATORS) + part
    return out


@SETTINGS
@given(st.text())
def test_name_folding_is_total_and_stable(name: str) -> None:
    key = name_key(name)
    assert re.fullmatch(r"[0-9a-z]*", key)
    assert name_key(key) == key


@SETTINGS
@given(WORDS)
def test_names_fold_alike_whatever_the_case_hyphens_dots_and_spaces(parts: list[str]) -> None:
    ascii_parts = [p for p in parts if p.isascii() and p.isalnum()]
    assume(ascii_parts)
    spaced, hyphened = " ".join(ascii_parts), "-".join(ascii_parts)
    assert name_key(spaced) == name_key(hyphened) == name_key("".join(ascii_parts))
    assert name_key(spaced.upper()) == name_key(spaced.lower()) == name_key(f" {spaced}. ")


@SETTINGS
@given(texts(), st.data())
def test_a_keyword_that_matches_is_highlighted_and_only_then(text: str, data: st.DataObject
                                                                ) -> None:
    found = words(text)
    start = data.draw(st.integers(0, max(0, len(found) - 1)))
    length = data.draw(st.integers(1, 3))
    picked = list(found[start:start + length]) or ["x"]
    if data.draw(st.booleans()):
        picked[-1] += data.draw(st.sampled_from(["s", "es", ""]))
    keyword = data.draw(st.sampled_from([" ".join(picked), "-".join(picked).upper()]))
    snippet = snippet_text(text, 10_000)
    assert snippet == one_line(latex_to_text(text))  # the whole text is shown
    paper = Paper(title="Untitled", abstract=text, sources=("x",))
    spots = PaperIndex([paper]).phrase(keyword)
    matched = any(area == "abstract" for _, _, area in spots.values())
    highlighted = [s.text for s in _highlighted(snippet, (keyword,)) if s.highlight]
    assert matched == bool(highlighted), (text, keyword, highlighted)
    assert "".join(s.text for s in _highlighted(snippet, (keyword,))) == snippet


PAPERS = st.builds(
    Paper,
    title=st.just("Flow Matching for Everything"),
    authors=st.lists(st.sampled_from(["Ada Lovelace", "Alan Turing", "Grace Hopper",
                                      "Zoë Ünal"]), max_size=4, unique=True).map(tuple),
    truncated=st.booleans(),
    author_count=st.one_of(st.none(), st.integers(0, 40)),
    arxiv_id=st.one_of(st.none(), st.just("2601.00001")),
    abstract=st.sampled_from(["", "Short.", "A longer abstract about flow matching."]),
    organization=st.one_of(st.none(), st.sampled_from(["DeepMind", "MIT"])),
    category=st.one_of(st.none(), st.sampled_from(["cs.LG", "cs.CV"])),
    published=st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 3, 1))),
    featured=st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 3, 1))),
    upvotes=st.one_of(st.none(), st.integers(0, 500)),
    score=st.one_of(st.none(), st.floats(0, 100)),
    has_code=st.booleans(),
    github_repo=st.one_of(st.none(), st.sampled_from(["https://github.com/a/b",
                                                      "https://github.com/c/d"])),
    github_stars=st.one_of(st.none(), st.integers(0, 10_000)),
    project_page=st.one_of(st.none(), st.just("https://example.org/p")),
    ai_summary=st.one_of(st.none(), st.sampled_from(["One line.", "Another line."])),
    keywords=st.lists(st.sampled_from(["flow matching", "diffusion"]), max_size=2,
                      unique=True).map(tuple),
    announce_type=st.one_of(st.none(), st.sampled_from(["new", "cross"])),
    sources=st.lists(st.sampled_from(["hf-daily", "arxiv", "profile"]), min_size=1,
                     max_size=3, unique=True).map(tuple),
    credited=st.lists(st.sampled_from(["Ada Lovelace", "ada lovelace", "Alan Turing"]),
                      max_size=2).map(tuple),
    first_seen=st.one_of(st.none(), st.datetimes(datetime(2026, 1, 1), datetime(2026, 3, 1),
                                                 timezones=st.just(UTC))),
)


@SETTINGS
@given(PAPERS, PAPERS)
def test_merging_is_order_independent(a: Paper, b: Paper) -> None:
    assert merge(a, b) == merge(b, a)


@SETTINGS
@given(PAPERS, PAPERS, PAPERS)
def test_merging_is_associative_and_idempotent(a: Paper, b: Paper, c: Paper) -> None:
    ab = merge(a, b)
    assert merge(ab, c) == merge(a, merge(b, c))
    assert merge(ab, ab) == ab
    assert merge(ab, b) == ab  # reading a file again changes nothing
    assert merge(ab, replace(a, id=None)) == ab


# ---- parsers and the YAML loader: only clean errors come out -----------------------------

JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                        st.text(max_size=30))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["paper", "title", "authors", "name", "id", "upvotes", "summary", "publishedAt",
         "ai_keywords", "githubStars", "numComments", "x"]), inner, max_size=6)),
    max_leaves=25)
PAGE_LINES = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(
    ["Daily Papers", "Papers", "·", "Published on May 28", "Submitted by", "Upvote", "12",
     "arXiv", "Authors:", "2505.12345", "May 28, 2026", "CV", "Cite", "et al.", "Maojiang Su",
     "<feed xmlns='http://www.w3.org/2005/Atom'>", "<entry>", "<title>x</title>", "</feed>"])),
    max_size=30).map("\n".join)


def _parse_cleanly(data: bytes, fmt: str | None) -> None:
    from digest.errors import DigestError
    from digest.ingest import parse
    from digest.ingest.common import ParseContext

    error: DigestError | None = None
    try:
        parse(data, ParseContext("random.txt", date(2026, 5, 31)), fmt)
    except DigestError as e:
        error = e
    assert error is None or str(error)  # papers, or a clean error with a message


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from([None, "profile", "daily-page", "hf-json",
                                                 "arxiv-atom"]))
def test_every_parser_on_random_bytes_gives_papers_or_a_clean_error(data: bytes,
                                                                   fmt: str | None) -> None:
    _parse_cleanly(data, fmt)


@SETTINGS
@given(PAGE_LINES, st.sampled_from([None, "profile", "daily-page", "arxiv-atom"]))
def test_every_parser_on_random_lines_gives_papers_or_a_clean_error(text: str,
                                                                   fmt: str | None) -> None:
    _parse_cleanly(text.encode("utf-8", "surrogatepass"), fmt)


@SETTINGS
@given(JSON_VALUES)
def test_the_json_parser_on_random_structures_gives_papers_or_a_clean_error(value: Any
                                                                           ) -> None:
    import json

    _parse_cleanly(json.dumps(value).encode(), "hf-json")
    _parse_cleanly(json.dumps([{"paper": value}]).encode(), "hf-json")


YAML_SCALARS = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(),
                         st.sampled_from(["daily", "weekly", "08:00", "Europe/Berlin",
                                          "a@example.org", "*alias", "&anchor x"]))
YAML_VALUES = st.recursive(YAML_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["subscribers", "defaults", "sources", "email", "authors", "keywords", "cadence",
         "send_at", "timezone", "max_papers", "path", "x"]), inner, max_size=5)),
    max_leaves=20)


@SETTINGS
@given(st.one_of(st.text(max_size=300), YAML_VALUES.map(lambda v: __import__("yaml").safe_dump(
    v, allow_unicode=True))))
def test_the_yaml_loader_on_random_input_gives_a_config_or_a_clean_error(text: str) -> None:
    import tempfile
    from pathlib import Path

    from digest.config import load_config
    from digest.errors import ConfigError

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "subscriptions.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        error: ConfigError | None = None
        try:
            load_config(path)
        except ConfigError as e:
            error = e
    assert error is None or (str(error) and "Traceback" not in str(error))


@SETTINGS
@given(st.text(st.sampled_from([*"ab c-·", "\t", "\n", "\xa0", "\u2003"]), max_size=90)
       | texts()
       | st.lists(st.text(st.sampled_from([*"abc-·\xa0"]), min_size=1, max_size=30),
                  max_size=40).map(" ".join)
       | st.text(st.sampled_from([*"ab c"]), max_size=300),
       st.sampled_from([("", None), ("   ", None), ("   ", "     ")]),
       st.sampled_from([78, 20, 8]))
def test_wrapping_is_what_textwrap_gives(text: str, indents: tuple[str, str | None],
                                         width: int) -> None:
    indent, first = indents
    _wrap.cache_clear()
    assert _wrap(text, width, indent, first) == textwrap.fill(
        text, width=width, initial_indent=indent if first is None else first,
        subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


@SETTINGS
@given(st.text(min_size=1, max_size=200).map(one_line).filter(bool)
       | st.text(st.sampled_from([*"aé·😀中 “"]), min_size=1, max_size=120))
def test_a_subject_in_encoded_words_reads_back_as_written(text: str) -> None:
    """Any subject that is not plain ASCII goes out as encoded words of whole characters
    in lines of at most 78 columns, and a mail reader decodes exactly the text."""
    import email
    import email.policy

    from digest.deliver.message import _encoded_words

    raw = _encoded_words("Subject", text)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n")), raw
    for word in re.findall(rb"=\?utf-8\?b\?([^?]*)\?=", raw):  # each of whole characters
        base64.b64decode(word).decode("utf-8")
    parsed = email.message_from_bytes(raw + b"\r\n", policy=email.policy.default)
    assert str(parsed["Subject"]) == text


@SETTINGS
@given(st.text(st.sampled_from([*"ab \t", "\n", "\r", "\xa0", "\u2009", "\u2028",
                                "\x0c", "\x1f", "\x85"]), max_size=60))
def test_tidy_text_is_what_tidying_line_by_line_gives(text: str) -> None:
    """The text part's tidying (no trailing spaces, at most one blank line in a row)
    against its definition, line by line as str.splitlines breaks them."""
    from digest.render import _tidy

    out: list[str] = []
    for line in (line.rstrip() for line in text.splitlines()):
        if line or (out and out[-1]):
            out.append(line)
    assert _tidy(text) == "\n".join(out).strip() + "\n"


@SETTINGS
@given(st.lists(st.sampled_from([*"a. =é\t", "\n", "\r", "\r\n", "..", "x" * 30]),
                max_size=60).map("".join),
       st.lists(st.sampled_from([*"<p>.", "\n", "\r", "▲"]), max_size=60).map("".join))
def test_a_built_message_needs_no_dot_stuffing_and_reads_back(text: str, html: str) -> None:
    """Whatever the parts hold, a built message has CRLF line ends only and no line that
    starts with a dot (SMTP sends it as it is), and a mail reader gets the parts back
    (the text with its line ends as LF; the HTML as the same document)."""
    import email
    import email.policy
    from html import unescape

    from digest.deliver.message import Envelope, build_message
    from digest.deliver.transport import data_payload
    from digest.model import Rendered

    data = build_message(Rendered("Dots", text, html),
                         envelope=Envelope.parse("Digest <d@example.org>", "Digest"),
                         to_name="Zoë", to_email="zoe@example.org",
                         message_id="<digest-1@example.org>", date=datetime(2026, 6, 1, tzinfo=UTC),
                         unsubscribe_url="https://example.org/u/t")
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    assert not data.startswith(b".") and b"\n." not in data
    assert data_payload(data) == data_payload(bytes(data))  # the scan would change nothing
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    text_part, html_part = parsed.iter_parts()
    lf = re.sub(r"\r\n?", "\n", text)
    assert text_part.get_content().replace("\r\n", "\n") == (
        lf if lf.endswith("\n") else lf + "\n")
    got, lf = html_part.get_payload(decode=True), re.sub(r"\r\n?", "\n", html)
    if html_part["Content-Transfer-Encoding"] == "base64":  # a line starts with a dot
        assert got == lf.encode()  # exactly, a lone CR a line end as HTML parsers read it
    else:  # unencoded: LF line ends as CRLF, what is not ASCII as character references
        assert html_part["Content-Transfer-Encoding"] == "7bit" and got.isascii()
        assert unescape(got.decode().replace("\r\n", "\n")) == unescape(
            lf if lf.endswith("\n") else lf + "\n")
