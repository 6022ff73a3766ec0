"""The full-text search index: written with the article, queried by `ecnews search`.

SQLite: an FTS5 table `article_search(words, grams)`, rowid = article id, over the
pre-segmented text (see storage.segment); `unicode61` splits it on the spaces only, since
every token is a pure Han or a pure Latin/digit run. PostgreSQL: `article_search` with a
`tsvector` of the same tokens (`simple` configuration, words weighted A, grams B) and a
GIN index. Neither needs a Chinese parser in the database.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, column, delete, func, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.dialects.postgresql import insert as pg_insert

from storage.models import Article, ArticleCategory, Category, Source
from storage.segment import Term, document, normalise, parse_query, query_terms
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence

    from sqlalchemy import Select
    from sqlalchemy.orm import Session

SEARCH_TABLE = "article_search"
WORDS_WEIGHT = 2.0
"""bm25 weight of a jieba-word hit against a 2-gram phrase hit."""
RANK_WINDOW = 5000
"""Rank the newest this many matches (by id, i.e. by when stored): a word found in most
articles would otherwise cost a score for each of them (~90 ms at 100,000 articles)."""
CHECK_BATCH = 100
"""Candidates read per query while checking them against their text."""
SNIPPET_BEFORE, SNIPPET_AFTER = 30, 70
MARK = ("«", "»")

_fts = table(SEARCH_TABLE, column("rowid"))
_pg = table(SEARCH_TABLE, column("article_id"), column("document", TSVECTOR))
_SQLITE_DELETE = text("DELETE FROM article_search WHERE rowid IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_SQLITE_INSERT = text(
    "INSERT INTO article_search (rowid, words, grams) VALUES (:id, :words, :grams)"
)


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """For Alembic's comparison: the search tables are built by migration 0004 on purpose
    (an FTS5 virtual table and its shadow tables have no model)."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLE))


def index_articles(session: Session, article_ids: Collection[int]) -> None:
    """(Re)write the index rows of these articles from `articles`, in the caller's
    transaction; ids no longer in `articles` lose their row. Its one caller at write time
    is ``BatchWriter.write`` (storage/batch.py), in the transaction that writes the
    articles; migration 0004 filled the index once."""
    ids = sorted(set(article_ids))
    if not ids:
        return
    session.flush()  # the ORM may hold the article's new title or body
    rows = session.execute(
        select(Article.id, Article.title, Article.body).where(Article.id.in_(ids))
    ).all()
    documents = [{"id": id_, **_fields(title, body)} for id_, title, body in rows]
    if session.get_bind().dialect.name == "postgresql":
        _write_postgresql(session, ids, documents)
    else:
        session.execute(_SQLITE_DELETE, {"ids": ids})
        if documents:
            session.execute(_SQLITE_INSERT, documents)


def _fields(title: str, body: str) -> dict[str, str]:
    doc = document(title, body)
    return {"words": doc.words, "grams": doc.grams}


def _write_postgresql(session: Session, ids: list[int], documents: list[dict[str, Any]]) -> None:
    session.execute(delete(_pg).where(_pg.c.article_id.in_(ids)))
    if not documents:
        return
    # Literal weights: a bound 'A' would be VARCHAR, and setweight() wants "char".
    vector = func.setweight(
        func.to_tsvector("simple", bindparam("words")), literal_column("'A'")
    ).op("||")(
        func.setweight(func.to_tsvector("simple", bindparam("grams")), literal_column("'B'"))
    )
    stmt = pg_insert(_pg).values(article_id=bindparam("id"), document=vector)
    session.execute(stmt, documents)


def index_counts(session: Session) -> tuple[int, int, int]:
    """(articles, index rows, articles without an index row)."""
    key = _fts.c.rowid if session.get_bind().dialect.name != "postgresql" else _pg.c.article_id
    source = _fts if key is _fts.c.rowid else _pg
    articles = session.scalar(select(func.count()).select_from(Article)) or 0
    rows = session.scalar(select(func.count()).select_from(source)) or 0
    missing = session.scalar(
        select(func.count()).select_from(Article).where(Article.id.not_in(select(key)))
    )
    return int(articles), int(rows), int(missing or 0)


# -- queries ------------------------------------------------------------------------------


def fts5_match(query: str) -> str:
    """The FTS5 MATCH expression for a query's index terms; `""` (matches nothing) when it
    has none."""
    terms = query_terms(query)
    return " AND ".join(_fts5_term(term) for term in terms) if terms else '""'


def _fts5_term(term: Term) -> str:
    phrase = f'grams : "{" ".join(term.grams)}"' + (" *" if term.prefix else "")
    return f'(words : "{term.word}" OR {phrase})' if term.word else phrase


def tsquery(query: str) -> str:
    """The PostgreSQL tsquery text for a query (weights keep words and grams apart)."""
    return " & ".join(_tsquery_term(term) for term in query_terms(query))


def _tsquery_term(term: Term) -> str:
    last = len(term.grams) - 1
    phrase = " <-> ".join(
        f"'{gram}':{'*' if term.prefix and i == last else ''}B" for i, gram in enumerate(term.grams)
    )
    return f"('{term.word}':A | ({phrase}))" if term.word else f"({phrase})"


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    title: str
    url: str
    published_at: dt.datetime | None
    source: str | None
    snippet: str

    def local_date(self) -> str:
        return (
            self.published_at.astimezone(SITE_TZ).strftime("%Y-%m-%d") if self.published_at else ""
        )


def search(
    session: Session,
    query: str,
    *,
    category: str | None = None,
    since: dt.date | None = None,
    limit: int = 20,
) -> list[Hit]:
    """Articles containing every needle of `query` (storage.segment.parse_query), best
    first among the newest RANK_WINDOW the index finds. A loose query (a piece of one
    character) and one with nothing the index can look up are not ranked: every
    candidate is checked, newest first, so none is lost past the window. Every hit is
    checked against the text itself, so the index only has to find a superset.
    QueryTooLong past the caps."""
    parsed = parse_query(query)
    if not parsed.needles:
        return []
    filters = []
    if since is not None:
        filters.append(Article.published_at >= dt.datetime.combine(since, dt.time(), SITE_TZ))
    if category is not None:
        filters.append(
            Article.id.in_(
                select(ArticleCategory.article_id)
                .join(Category, Category.id == ArticleCategory.category_id)
                .where(Category.slug == category)
            )
        )
    if parsed.terms and not parsed.loose:
        ranked = list(session.scalars(_ranked(session, query, filters, limit)))
        pages = _slices(ranked, limit)
    elif parsed.terms:
        pages = _newest_first(session, *_matching(session, query, filters))
    else:
        pages = _newest_first(session, select(Article.id).where(*filters), Article.id)
    return _checked(session, pages, parsed.needles, limit)


def _slices(ids: list[int], first: int) -> Iterator[list[int]]:
    """`ids` in pages: as many as wanted first (most hits pass the check), then more."""
    yield ids[:first]
    for start in range(first, len(ids), CHECK_BATCH):
        yield ids[start : start + CHECK_BATCH]


def _newest_first(session: Session, found: Select[Any], key: Any) -> Iterator[list[int]]:
    """The ids `found` selects, highest first, a page at a time (keyset: no OFFSET), so a
    query that finds most articles reads only as many as it checks."""
    below = None
    while True:
        page = found if below is None else found.where(key < below)
        ids = list(session.scalars(page.order_by(key.desc()).limit(CHECK_BATCH)))
        if not ids:
            return
        yield ids
        below = ids[-1]


def _ranked(session: Session, query: str, filters: list[Any], limit: int) -> Select[Any]:
    if session.get_bind().dialect.name == "postgresql":
        match = func.to_tsquery("simple", tsquery(query))
        key = _pg.c.article_id
        window = select(key.label("id"), func.ts_rank(_pg.c.document, match).label("score"))
        window = window.where(_pg.c.document.op("@@")(match))
        better = "desc"
    else:
        key = _fts.c.rowid
        window = select(
            key.label("id"),
            func.bm25(literal_column(SEARCH_TABLE), WORDS_WEIGHT, 1.0).label("score"),
        ).where(literal_column(SEARCH_TABLE).op("MATCH")(fts5_match(query)))
        better = "asc"  # bm25() is negative: lower is better
    if filters:
        window = window.where(key.in_(select(Article.id).where(*filters)))
    ranked = window.order_by(key.desc()).limit(max(RANK_WINDOW, limit)).subquery()
    score = ranked.c.score.desc() if better == "desc" else ranked.c.score.asc()
    return select(ranked.c.id).order_by(score, ranked.c.id.desc())


def _matching(session: Session, query: str, filters: list[Any]) -> tuple[Select[Any], Any]:
    """Every article the index finds for `query`, unranked, and the column of its id."""
    if session.get_bind().dialect.name == "postgresql":
        key = _pg.c.article_id
        found = select(key).where(
            _pg.c.document.op("@@")(func.to_tsquery("simple", tsquery(query)))
        )
    else:
        key = _fts.c.rowid
        found = select(key).where(literal_column(SEARCH_TABLE).op("MATCH")(fts5_match(query)))
    if filters:
        found = found.where(key.in_(select(Article.id).where(*filters)))
    return found, key


def _checked(
    session: Session, pages: Iterator[list[int]], needles: Sequence[str], limit: int
) -> list[Hit]:
    """The first `limit` candidates, in order, whose text holds every needle."""
    hits: list[Hit] = []
    for ids in pages:
        rows = {
            row.id: row
            for row in session.execute(
                select(
                    Article.id,
                    Article.title,
                    Article.url,
                    Article.published_at,
                    Article.body,
                    Source.name.label("source"),
                )
                .outerjoin(Source, Source.id == Article.source_id)
                .where(Article.id.in_(ids))
            )
        }
        for id_ in ids:
            if (row := rows.get(id_)) is None:
                continue  # deleted since the index was read
            text = f"{row.title}\n{row.body}"
            normalised = normalise(text)
            if all(needle in normalised for needle in needles):
                hits.append(
                    Hit(
                        id=id_,
                        title=row.title,
                        url=row.url,
                        published_at=row.published_at,
                        source=row.source,
                        snippet=snippet(text, needles),
                    )
                )
                if len(hits) == limit:
                    return hits
    return hits


def snippet(text: str, words: Sequence[str]) -> str:
    """A window of `text` (title, new line, body) around the first hit of a query word in
    the body (else the title), every hit in it marked «…»."""
    words = [word for word in words if word]
    lowered = normalise(text)
    if len(lowered) != len(text):  # NFKC changed lengths: positions would not map back
        lowered = text.lower()
    body_start = text.find("\n") + 1
    hits = [at for word in words if (at := lowered.find(word, body_start)) >= 0] or [
        at for word in words if (at := lowered.find(word)) >= 0
    ]
    at = min(hits) if hits else body_start
    start = max(at - SNIPPET_BEFORE, body_start if at >= body_start else 0)
    end = at + SNIPPET_BEFORE + SNIPPET_AFTER
    out = ["…"] if start not in {0, body_start} else []
    position = start
    if words:
        pattern = re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))))
        for match in pattern.finditer(lowered, start, end):
            out += [text[position : match.start()], MARK[0], text[match.start() : match.end()]]
            out.append(MARK[1])
            position = match.end()
    out.append(text[position:end])
    if end < len(text):
        out.append("…")
    return _clean("".join(out).replace(MARK[1] + MARK[0], ""))


def _clean(text: str) -> str:
    return " ".join(text.split())
