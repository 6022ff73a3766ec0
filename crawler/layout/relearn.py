"""One relearning of the site's layout within a run: the pages held while it goes on, the
stored articles fetched as examples, and the verdict once they are all in."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crawler.layout.compiled import compile_layout
from crawler.layout.induce import induce, induce_article, induce_listing
from crawler.layout.prove import ArticleExample, ListingExample, Proof, prove, required_articles

if TYPE_CHECKING:
    from crawler.layout.description import Layout
    from storage.layouts import StoredArticle

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Verdict:
    layout: Layout | None
    """The layout to read with from now on (None: none could be proven)."""
    changed: bool
    proof: Proof
    message: str
    listing: Layout | None = None
    """A cold start whose articles could not be proven: the listing part learned from the
    listings' titled items (the active one's article part), to find the articles that the
    generic extractor then reads. Never stored: nothing proved it."""


@dataclass(slots=True)
class Learning:
    stored: list[StoredArticle]
    stored_count: int
    held: list[tuple[str, Any, dict[str, Any]]] = field(default_factory=list)
    """(callback name, response, cb_kwargs) of pages the active layout could not read."""
    listings: list[ListingExample] = field(default_factory=list)
    """Page 1 of the listings, in the order of the categories (whoever fetched them)."""
    asked: set[str] = field(default_factory=set)
    """Categories whose page 1 is held or asked for as an example."""
    pages: dict[int, list[str]] = field(default_factory=dict)
    pending: int = 0
    cold: bool = False
    """Nothing is stored: the examples are what the listings say (title, day)."""
    started: bool = True
    """The examples are requested (a cold start waits for the listings that name them)."""

    def conclude(self, active: Layout, adopted: Layout | None = None) -> Verdict:
        """`adopted`: a layout another worker stored while this one learned; proven on
        these examples too, it is read with (nothing new to store)."""
        articles = [
            ArticleExample(self.stored[index], pages) for index, pages in sorted(self.pages.items())
        ]
        # Stored articles the site no longer serves (404) cannot be asked for.
        stored = len(self.stored) if self.cold else self.stored_count
        required = max(1, min(required_articles(stored), len(articles)))
        if adopted is not None and articles:
            proof = prove(
                compile_layout(adopted), articles, self.listings, required, cold=self.cold
            )
            if proof.proven:
                return Verdict(adopted, changed=False, proof=proof, message="")
            active = adopted
        if self.cold:
            return self._conclude_cold(active, articles, required)
        current = prove(compile_layout(active), articles, self.listings, required)
        if current.proven:
            return Verdict(active, changed=False, proof=current, message="")
        learned = induce(articles, self.listings, active)
        if learned is None:
            return Verdict(
                None,
                changed=True,
                proof=current,
                message="no layout reproduces the stored articles: "
                "no headline or content container holds their stored text",
            )
        proof = prove(compile_layout(learned), articles, self.listings, required)
        if not proof.proven:
            return Verdict(None, changed=True, proof=proof, message=proof.reason())
        return Verdict(
            learned,
            changed=True,
            proof=proof,
            message=(
                f"site layout changed: relearned from {len(proof.reproduced)} stored articles "
                f"(all fields reproduced); see ecnews layout show"
            ),
        )

    def _conclude_cold(
        self, active: Layout, articles: list[ArticleExample], required: int
    ) -> Verdict:
        if not articles:
            return Verdict(None, True, Proof(), "no listed article could be fetched to learn from")
        layout = active
        if self.listings:
            layout = induce_listing(self.listings, active) or active
        listing = layout if layout is not active else None
        learned = induce_article(articles, layout, cold=True)
        if learned is None:
            why = "no <h1> on the article pages is the title their listing gives"
            return Verdict(None, True, Proof(), why, listing=listing)
        proof = prove(compile_layout(learned), articles, self.listings, required, cold=True)
        if not proof.proven:
            return Verdict(None, True, proof, proof.reason(), listing=listing)
        return Verdict(
            learned,
            changed=True,
            proof=proof,
            message=(
                f"site layout unknown: learned from {len(proof.reproduced)} listed articles "
                "(headline and date as their listings give them); see ecnews layout show"
            ),
        )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
