"""Full-text search over the papers' titles, authors and keywords, in the database's own
engine: a SQLite FTS5 table (``paper_search``, its rowid the paper's id), or on
PostgreSQL a ``tsvector`` per paper in ``paper_search`` with a GIN index. Neither is a
portable table, so neither is in ``schema.metadata``: ``create`` makes it beside the
schema (migration 0007 for a database made before), and the store's upsert of papers
(``papers._write``) refreshes the rows of the papers it wrote, authors included, in
the same transaction.

What a visitor types never reaches the engine's query syntax: it is cut into at most
``MAX_TERMS`` words (letters and digits), each searched as a prefix, all of them
required; quotes, operators, column filters and NULs are only separators."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select, text

from digest.store import schema as s
from digest.text import fold

TABLE = "paper_search"  # not vocab: a table
MAX_TERMS = 8
MAX_TERM = 64  # characters of a word searched (longer ones are cut)
MAX_QUERY = 500  # characters of a query read at all
# Phrase matches looked at beyond a page's: the engine's run on from one author's name
# into the next, and those are checked and left behind.
PHRASE_SPARE = 200
_CHUNK = 400
_WORD = re.compile(r"\w+")

# SQLite: the words of the title, the authors' names and the source's keywords, accents
# folded (``remove_diacritics 2``: Müller is found as Muller); bm25 weighs a title word
# above an author's name above a keyword.
_SQLITE_CREATE = (f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
                  "title, authors, keywords, tokenize = 'unicode61 remove_diacritics 2')",)
_SQLITE_DELETE = f"DELETE FROM {TABLE} WHERE rowid IN ({{ids}})"
_SQLITE_FILL = (f"INSERT INTO {TABLE} (rowid, title, authors, keywords) "
                "SELECT p.id, p.title, coalesce((SELECT group_concat(a.name, ' ') "
                "FROM paper_authors a WHERE a.paper_id = p.id), ''), "
                "coalesce(p.keywords, '') FROM papers p{where}")
_SQLITE_MATCH = (f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :q "
                 f"ORDER BY bm25({TABLE}, 10.0, 5.0, 1.0), rowid DESC LIMIT :limit OFFSET :offset")
_SQLITE_COUNT = f"SELECT count(*) FROM {TABLE} WHERE {TABLE} MATCH :q"

# PostgreSQL: the 'simple' configuration (no stemming, as SQLite's tokenizer), the title
# weighed A, the authors B, the keywords C.
_PG_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (paper_id INTEGER PRIMARY KEY "
              "REFERENCES papers (id) ON DELETE CASCADE, document TSVECTOR NOT NULL)",
              f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_document ON {TABLE} USING GIN (document)")
_PG_DELETE = f"DELETE FROM {TABLE} WHERE paper_id IN ({{ids}})"
_PG_FILL = (f"INSERT INTO {TABLE} (paper_id, document) SELECT p.id, "
            "setweight(to_tsvector('simple', p.title), 'A') || "
            "setweight(to_tsvector('simple', coalesce((SELECT string_agg(a.name, ' ' "
            "ORDER BY a.position) FROM paper_authors a WHERE a.paper_id = p.id), '')), 'B') || "
            "setweight(to_tsvector('simple', coalesce(p.keywords::text, '')), 'C') "
            "FROM papers p{where}")
_PG_MATCH = (f"SELECT paper_id FROM {TABLE}, to_tsquery('simple', :q) query "
             "WHERE document @@ query ORDER BY ts_rank(document, query) DESC, paper_id DESC "
             "LIMIT :limit OFFSET :offset")
_PG_COUNT = f"SELECT count(*) FROM {TABLE} WHERE document @@ to_tsquery('simple', :q)"


def terms(query: str) -> list[str]:
    """The words of what a visitor typed that are searched: letters and digits only,
    at most ``MAX_TERMS`` of them, each at most ``MAX_TERM`` long."""
    return [w[:MAX_TERM] for w in _WORD.findall(query[:MAX_QUERY].replace("_", " "))
            ][:MAX_TERMS]


def create(conn: Connection) -> None:
    """Make the search table (and index) of this database, if it has none."""
    for statement in _SQLITE_CREATE if _sqlite(conn) else _PG_CREATE:
        conn.exec_driver_sql(statement)


def refresh(conn: Connection, ids: Iterable[int] | None = None) -> None:
    """Write the search rows of the papers with ``ids`` (every paper with None) from
    their stored title, authors and keywords, replacing what was there."""
    delete, fill = (_SQLITE_DELETE, _SQLITE_FILL) if _sqlite(conn) else (_PG_DELETE, _PG_FILL)
    if ids is None:
        conn.exec_driver_sql(delete.replace(" WHERE rowid IN ({ids})", "")
                             .replace(" WHERE paper_id IN ({ids})", ""))
        conn.exec_driver_sql(fill.format(where=""))
        return
    wanted = sorted({int(i) for i in ids})
    for start in range(0, len(wanted), _CHUNK):
        listed = ", ".join(str(i) for i in wanted[start:start + _CHUNK])  # ints only
        conn.exec_driver_sql(delete.format(ids=listed))
        conn.exec_driver_sql(fill.format(where=f" WHERE p.id IN ({listed})"))


def search(conn: Connection, words: Sequence[str], limit: int, offset: int
           ) -> tuple[list[int], int]:
    """The ids of the papers holding every one of ``words`` (``terms``) as a word or a
    word's start, ``limit`` from ``offset``, and how many there are in all. Those holding
    the words together, in order (a name: "Hao Li", not "Haoran Lin ... Li"), come first;
    then the best match (title, then authors, then keywords)."""
    if not words:
        return [], 0
    sqlite = _sqlite(conn)
    every = _query(words, sqlite)
    found = _ids(conn, every, sqlite, offset + limit)
    if len(words) > 1:
        near = _ids(conn, _query(words, sqlite, phrase=True), sqlite,
                    offset + limit + PHRASE_SPARE)
        found = list(dict.fromkeys([*_within_one(conn, near, words), *found]))  # exact first
    total = int(conn.execute(text(_SQLITE_COUNT if sqlite else _PG_COUNT),
                             {"q": every}).scalar_one())
    return found[offset:offset + limit], total


def _query(words: Sequence[str], sqlite: bool, phrase: bool = False) -> str:
    """The engine's query of ``words`` (letters and digits only, so quoting is safe): each
    a word's start, all of them anywhere; or, as a ``phrase``, the words one after another,
    the last a word's start."""
    if sqlite:
        return ('"' + " ".join(words) + '"*' if phrase
                else " ".join(f'"{w}"*' for w in words))
    if phrase:
        return " <-> ".join([*(f"'{w}'" for w in words[:-1]), f"'{words[-1]}':*"])
    return " & ".join(f"'{w}':*" for w in words)


def _within_one(conn: Connection, ids: list[int], words: Sequence[str]) -> list[int]:
    """Of ``ids`` (the engine's phrase matches, which run on from one author's name into
    the next: "... Yi Hao" "Lin Li ..."), those whose title or one author's name holds the
    words one after another, in the order given."""
    if not ids:
        return []
    wanted = [fold(w) for w in words]
    fields: dict[int, list[str]] = {i: [] for i in ids}
    for pid, title in conn.execute(select(s.papers.c.id, s.papers.c.title)
                                   .where(s.papers.c.id.in_(ids))):
        fields[pid].append(title)
    a = s.paper_authors.c
    for pid, name in conn.execute(select(a.paper_id, a.name).where(a.paper_id.in_(ids))):
        fields[pid].append(name)
    exact = [i for i in ids if any(_holds(f, wanted, whole=True) for f in fields[i])]
    return [*exact, *(i for i in ids if any(_holds(f, wanted) for f in fields[i]))]


def _holds(field: str, wanted: list[str], whole: bool = False) -> bool:
    """Whether ``field``'s words hold ``wanted`` one after another, the last as a word's
    start (or, ``whole``, as a word: "Hao Li", not "Hao Liao")."""
    got = [fold(w) for w in _WORD.findall(field)]
    n = len(wanted)
    return any(got[i:i + n - 1] == wanted[:-1] and (
        got[i + n - 1] == wanted[-1] if whole else got[i + n - 1].startswith(wanted[-1]))
        for i in range(len(got) - n + 1))


def _ids(conn: Connection, query: str, sqlite: bool, limit: int) -> list[int]:
    """The first ``limit`` ids matching ``query``, best first."""
    rows = conn.execute(text(_SQLITE_MATCH if sqlite else _PG_MATCH),
                        {"q": query, "limit": limit, "offset": 0}).scalars()
    return [int(i) for i in rows]


def _sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"
