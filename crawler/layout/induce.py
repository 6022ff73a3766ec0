"""Induce a layout from examples: pages whose fields are known (stored articles, and the
listing pages that link stored articles).

What is looked for is what the contract says each field is, never a class name:

- the headline: the <h1> whose text is the stored title;
- the content: the smallest element whose paragraphs, read by the contract's rules, hold
  the most of the stored body; its boxes: elements inside it that hold only text that is
  in no stored body and is no attribution or trailer;
- the date: the smallest element whose text parses to the stored moment; the info line:
  its largest ancestor that holds neither the headline nor the content;
- on listings: the repeated item that holds this category's stored links (grouped by the
  path of tags and classes that leads to each link, so a sidebar linking every category
  is another group), the item's date, and the pager that links list_<n+1>.html.

Each found element becomes an XPath of tags with their class or id, the first candidate
that selects the found element on every example page; the proof decides the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.layout.compiled import compile_layout, listing_number, own_text, visible_text
from crawler.layout.description import DEFAULT, Layout
from crawler.layout.generic import generic_lines
from crawler.layout.prove import listing_failure as _listing_failure
from crawler.layout.reading import parse
from crawler.urls import canonical_url, normalize_url
from pipelines.rules import attribute, clean_title, element_paragraphs, parse_day, parse_published

if TYPE_CHECKING:
    from crawler.layout.prove import ArticleExample, ListingExample

_ARTICLE_PATH = re.compile(r"^/news/[^/]+/\d{4}/\d{4}/\d+\.html$")
_NO_DATE = frozenset(("script", "style", "head", "title", "meta"))
_CONTAINERS = frozenset(
    ("div", "section", "article", "main", "td", "body", "span", "font", "center", "blockquote")
)
_FURNITURE = (("h1", ".//h1"), ("nav", ".//nav"), ("header", ".//header"))


# -- XPath candidates ----------------------------------------------------------------------


def _literal(value: str) -> str:
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return "concat(" + ", '\"', ".join(f'"{part}"' for part in value.split('"')) + ")"


def _step(element: Any, *, plain: bool = False) -> str:
    tag = str(element.tag)
    if plain:
        return tag
    if element.get("id"):
        return f"{tag}[@id={_literal(element.get('id'))}]"
    if element.get("class"):
        return f"{tag}[@class={_literal(element.get('class'))}]"
    return tag


def _position_path(element: Any, stop: Any = None) -> str:
    steps = []
    node = element
    while node is not None and node is not stop:
        parent = node.getparent()
        if parent is None:
            steps.append(str(node.tag))
            break
        same = [child for child in parent if child.tag == node.tag]
        steps.append(f"{node.tag}[{same.index(node) + 1}]")
        node = parent
    return "/".join(reversed(steps))


def _absolute_candidates(element: Any) -> list[str]:
    parent = element.getparent()
    own = _step(element)
    candidates = []
    if own != element.tag:
        candidates.append(f"//{own}")
    if parent is not None:
        candidates.append(f"//{_step(parent)}/{own}")
        grand = parent.getparent()
        if grand is not None:
            candidates.append(f"//{_step(grand)}/{_step(parent)}/{own}")
    candidates.append(f"//{element.tag}")
    candidates.append("/" + _position_path(element))
    return candidates


def _relative_candidates(element: Any, context: Any) -> list[str]:
    steps = []
    node = element
    while node is not None and node is not context:
        steps.append(_step(node))
        node = node.getparent()
    candidates = ["./" + "/".join(reversed(steps))] if node is context else []
    own = _step(element)
    if own != element.tag:
        candidates.append(f".//{own}")
    candidates.append(f".//{element.tag}")
    if node is context:
        candidates.append("./" + _position_path(element, context))
    return candidates


def _first_fitting(candidates: list[str], pairs: list[tuple[Any, Any]]) -> str | None:
    """The first candidate whose first match is the found element on every (context,
    element) pair."""
    for candidate in dict.fromkeys(candidates):
        try:
            if all(
                (found := context.xpath(candidate)) and found[0] is element
                for context, element in pairs
            ):
                return candidate
        except Exception:  # noqa: BLE001, S112  # a candidate lxml refuses is no candidate
            continue
    return None


def _fit(pairs: list[tuple[Any, Any]], *, relative: bool) -> str | None:
    candidates: list[str] = []
    for context, element in pairs:
        candidates += (
            _relative_candidates(element, context) if relative else _absolute_candidates(element)
        )
    return _first_fitting(candidates, pairs)


# -- article pages ------------------------------------------------------------------------


def _is_tail_line(line: str) -> bool:
    """Whether the contract's attribution rules take this line out of a body's tail."""
    return len(attribute(["。", line], []).paragraphs) == 1


def _content(root: Any, lines: set[str], headline: Any) -> Any:
    """The smallest element that holds the most of the body's lines, and not the headline
    (a container that holds the headline holds the page)."""
    best, best_key = None, (0, 0)
    around = list(headline.iterancestors())  # held, so lxml keeps one proxy per node
    for element in root.iter(*_CONTAINERS):
        if any(element is ancestor for ancestor in around):
            continue
        paragraphs = element_paragraphs(element)
        covered = len(lines.intersection(paragraphs))
        if covered:
            key = (covered, -len(paragraphs))
            if key > best_key:
                best, best_key = element, key
    return best


def _boxes(container: Any, stored_lines: set[str]) -> list[Any]:
    boxes: list[Any] = []
    stack = list(container)
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):
            continue
        paragraphs = element_paragraphs(element)
        if not paragraphs:
            continue
        if all(p not in stored_lines and not _is_tail_line(p) for p in paragraphs):
            boxes.append(element)
        elif any(p not in stored_lines for p in paragraphs):
            stack.extend(element)
    return boxes


def _date_element(
    root: Any, moment: Any, precision: str | None, outside: list[Any], headline: Any
) -> Any:
    """The innermost element whose text is the stored moment; of several (a sidebar may show
    the same date), the one nearest the headline (deepest common ancestor with it)."""
    matches: list[Any] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag in _NO_DATE:
            continue
        if any(element in o.iter() for o in outside if o is not None):
            continue
        text = visible_text(element)
        if len(text) > 200:
            continue
        parsed = parse_published(text)
        if parsed and (
            parsed.moment == moment and parsed.precision == precision
            if precision is not None
            else parsed.moment.date() == moment.date()
        ):
            matches = [m for m in matches if not any(m is a for a in element.iterancestors())]
            matches.append(element)  # iter() is document order: inner ones come later
    around = [headline, *headline.iterancestors()]

    def distance(match: Any) -> int:
        chain = [match, *match.iterancestors()]
        return next(i for i, a in enumerate(around) if any(a is x for x in chain))

    return min(matches, key=distance, default=None)


def _fit_date(pairs: list[tuple[Any, Any]], info: str, roots: list[Any]) -> str | None:
    """The date's selector inside the info line: its first match is the date on the pages
    that show one, and on every page (those without a date too) it matches nothing that is
    not a date, so no other part of the info line is read as one."""
    candidates: list[str] = []
    for context, element in pairs:
        own = [name for name in element.attrib if name not in ("class", "id", "style")]
        relative = _relative_candidates(element, context)
        candidates += relative[:1] + [f".//{element.tag}[@{name}]" for name in own] + relative[1:]
    lines = [line for root in roots for line in root.xpath(info)[:1]]
    fitting = []
    for candidate in dict.fromkeys(candidates):
        if _first_fitting([candidate], pairs) is None:
            continue
        fitting.append(candidate)
        if all(
            parse_published(visible_text(match)) is not None
            for line in lines
            for match in line.xpath(candidate)
        ):
            return f"({candidate})[1]"
    return f"({fitting[0]})[1]" if fitting else None


def _info_line(date: Any, keep_out: list[Any]) -> Any:
    info, node = date, date.getparent()
    while node is not None and not any(
        k is not None and (k is node or node in k.iterancestors()) for k in keep_out
    ):
        info, node = node, node.getparent()
    return info


def _repeated_boxes(contents: list[tuple[Any, Any]], titles: list[str]) -> list[tuple[Any, Any]]:
    """Cold start: the boxes inside the containers whose text is the same on the pages of
    several articles (the site's own ads and QR codes repeat; article text does not, but
    for a re-published copy, which has the same title)."""
    pages: dict[tuple[str, ...], set[str]] = {}
    found: list[tuple[Any, Any, tuple[str, ...]]] = []
    for index, (_, container) in enumerate(contents):
        for element in container.iterdescendants():
            if not isinstance(element.tag, str):
                continue
            paragraphs = tuple(element_paragraphs(element))
            if paragraphs and not all(_is_tail_line(p) for p in paragraphs):
                found.append((container, element, paragraphs))
                pages.setdefault(paragraphs, set()).add(titles[index])
    repeated = {id(e) for _, e, p in found if len(pages[p]) >= 2}
    return [
        (container, element)
        for container, element, _ in found
        if id(element) in repeated and not any(id(a) in repeated for a in element.iterancestors())
    ]


def induce_article(
    examples: list[ArticleExample], base: Layout, *, cold: bool = False
) -> Layout | None:
    """`cold`: the examples hold only the listing's title and day (crawler/layout/prove.py);
    the generic extractor's text stands in for the stored body to locate the container."""
    if cold:
        examples = [
            replace(e, stored=replace(e.stored, body="\n".join(generic_lines(e.pages[0]))))
            for e in examples
        ]
    stored_lines = {line for e in examples for line in e.stored.body.split("\n")}
    headlines: list[tuple[Any, Any]] = []
    contents: list[tuple[Any, Any]] = []
    infos: list[tuple[Any, Any]] = []
    dates: list[tuple[Any, Any]] = []
    boxes: list[tuple[Any, Any]] = []
    content_titles: list[str] = []
    roots: list[Any] = []
    for example in examples:
        root = parse(example.pages[0])
        roots.append(root)
        title = example.stored.title
        headline = next((h for h in root.iter("h1") if clean_title(visible_text(h)) == title), None)
        if headline is None:
            continue  # edited since stored, or no headline: no example
        headlines.append((root, headline))
        container = _content(root, set(example.stored.body.split("\n")), headline)
        if container is None:
            continue
        contents.append((root, container))
        content_titles.append(title)
        if not cold:
            boxes.extend((container, box) for box in _boxes(container, stored_lines))
        if example.stored.published_at is None:
            continue
        date = _date_element(
            root,
            example.stored.published_at,
            example.stored.date_precision,
            [container],
            headline,
        )
        if date is None:
            continue
        info = _info_line(date, [headline, container])
        infos.append((root, info))
        dates.append((info, date))
    if not headlines or not contents:
        return None
    if cold:
        boxes = _repeated_boxes(contents, content_titles)
    headline = _fit(headlines, relative=False)
    content = _fit(contents, relative=False)
    if headline is None or content is None:
        return None
    info = _fit(infos, relative=False) if infos else None
    info_date = _fit_date(dates, info, roots) if dates and info else None
    box_selectors: list[str] = []
    for container, box in boxes:
        selector = next(
            (c for c in _relative_candidates(box, container) if c.startswith(".//") and "[" in c),
            None,
        )
        if selector and selector not in box_selectors:
            box_selectors.append(selector)
    return replace(
        base,
        scope="",
        headline=(headline,),
        info=info or "/nothing",
        info_parts="./*",
        info_date=info_date or "./nothing",
        content=(content,),
        boxes=tuple(box_selectors),
        page_links="//a/@href",
        furniture=(*_FURNITURE, *((("info", "." + info),) if info else ())),
    )


# -- listing pages ------------------------------------------------------------------------


def _signature(anchor: Any) -> tuple[str, ...]:
    return tuple(
        f"{node.tag}.{node.get('class') or ''}#{node.get('id') or ''}"
        for node in [anchor, *anchor.iterancestors()]
    )


def _lowest_common_ancestor(elements: list[Any]) -> Any:
    chains = [[e, *e.iterancestors()] for e in elements]
    common = set(map(id, chains[0]))
    for chain in chains[1:]:
        common &= set(map(id, chain))
    return next(node for node in chains[0] if id(node) in common)


def _item_of(anchor: Any, container: Any) -> Any:
    node = anchor
    while node.getparent() is not container:
        node = node.getparent()
    return node


def _listing_candidate(example: ListingExample, base: Layout) -> Layout | None:
    """The listing part one listing page suggests."""
    root = parse(example.html)
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for anchor in root.iter("a"):
        try:
            url = canonical_url(anchor.get("href") or "", example.url)
        except ValueError:
            continue
        if url in example.known:
            groups.setdefault(_signature(anchor), {}).setdefault(url, anchor)
    if not groups:
        return None
    group = max(groups.values(), key=len)
    anchors = list(group.values())
    if len(anchors) >= 2:
        container = _lowest_common_ancestor(anchors)
        found = [(url, _item_of(anchor, container), anchor) for url, anchor in group.items()]
    else:
        # One stored link: its item is the ancestor repeated among its siblings.
        anchor = anchors[0]
        item = next(
            (
                node
                for node in anchor.iterancestors()
                if node.getparent() is not None
                and Counter(_step(c) for c in node.getparent())[_step(node)] >= 2
            ),
            None,
        )
        if item is None:
            return None
        found = [(next(iter(group)), item, anchor)]
    items = [(root, item) for _, item, _ in found]
    links = [(item, anchor) for _, item, anchor in found]
    dates = [
        (item, date)
        for url, item, _ in found
        if (date := _item_date(item, example.known[url])) is not None
    ]
    item_selector = _fit_all(items)
    link = _fit(links, relative=True)
    if item_selector is None or link is None:
        return None
    date = _fit(dates, relative=True) if dates else None
    return replace(
        base, listing_item=item_selector, item_link=(link,), item_date=date or "./nothing"
    )


def induce_listing(examples: list[ListingExample], base: Layout) -> Layout | None:
    """The candidate that reads the most example pages (the proof's listing test), with
    the pager found on them."""
    candidates = [c for e in examples if (c := _listing_candidate(e, base)) is not None]
    if not candidates:
        return None
    best = max(dict.fromkeys(candidates), key=lambda c: _listing_score(c, examples))
    roots = [(parse(e.html), e.url) for e in examples]
    pagers = [a for root, url in roots if (a := _next_anchor(root, url)) is not None]
    return replace(best, next_page=_pager(pagers))


def _listing_score(candidate: Layout, examples: list[ListingExample]) -> tuple[int, int, int]:
    """Pages it reads, then items with a date, then items of the listing's own category
    (a sidebar of popular articles links every category and shows no dates)."""
    layout = compile_layout(candidate)
    passed = dated = own = 0
    for example in examples:
        passed += _listing_failure(layout, example) is None
        for entry in layout.listing_entries(parse(example.html)):
            dated += parse_day(entry.date_raw) is not None
            own += f"/news/{example.slug}/" in entry.href or not entry.href.startswith("/")
    return passed, dated, own


def cold_known(html: str, url: str) -> dict[str, Any]:
    """Cold start: the links a listing page may hold as items: article URLs, those with a
    `title` attribute (the full headline) where there are any."""
    links: dict[str, bool] = {}
    for anchor in parse(html).iter("a"):
        try:
            target = canonical_url(anchor.get("href") or "", url)
        except ValueError:
            continue
        if _ARTICLE_PATH.match(urlsplit(target).path):
            links[target] = links.get(target, False) or bool(anchor.get("title"))
    titled = {u: None for u, has_title in links.items() if has_title}
    return titled or dict.fromkeys(links)


def _fit_all(pairs: list[tuple[Any, Any]]) -> str | None:
    """A selector whose matches include every found item (listing items repeat)."""
    candidates: list[str] = []
    for _, element in pairs:
        parent = element.getparent()
        candidates += [f"//{_step(parent)}/{_step(element)}", f"//{_step(element)}"]
        grand = parent.getparent() if parent is not None else None
        if grand is not None:
            candidates.append(f"//{_step(grand)}/{_step(parent)}/{_step(element)}")
        candidates.append("/" + _position_path(parent) + "/" + str(element.tag))
    for candidate in dict.fromkeys(candidates):
        if all(any(m is element for m in root.xpath(candidate)) for root, element in pairs):
            return candidate
    return None


def _item_date(item: Any, day: Any) -> Any:
    found = None
    for element in item.iter():
        if not isinstance(element.tag, str):
            continue
        text = own_text(element)
        parsed = parse_day(text) if text.strip() else None
        if parsed is not None and (day is None or parsed == day) and found is None:
            found = element
    return found


def _next_anchor(root: Any, url: str) -> Any:
    try:
        page = listing_number(normalize_url(url).split("?")[0])
    except ValueError:
        return None
    for anchor in root.iter("a"):
        try:
            target = normalize_url(anchor.get("href") or "", url)
        except ValueError:
            continue
        if target.rsplit("/", 1)[0] == url.rsplit("/", 1)[0] and listing_number(target) == page + 1:
            return anchor
    return None


def _pager(anchors: list[Any]) -> str:
    """The hrefs of the pager's links: the nearest ancestor with a class or id that every
    example's next link shares; any link of the page when there is none (the next page is
    told by its URL anyway)."""
    for anchor in anchors[:1]:
        for node in anchor.iterancestors():
            if node.get("class") or node.get("id"):
                selector = f"//{_step(node)}//a/@href"
                if all(
                    a in a.getroottree().getroot().xpath(selector.removesuffix("/@href"))
                    for a in anchors
                ):
                    return selector
                break
    return "//a/@href"


def induce(
    articles: list[ArticleExample], listings: list[ListingExample], base: Layout = DEFAULT
) -> Layout | None:
    """A layout from both kinds of examples: the listing part from listings (the base's
    kept when there are none), the article part from articles."""
    layout = base
    if listings:
        layout = induce_listing(listings, layout) or layout
    if articles:
        induced = induce_article(articles, layout)
        if induced is None:
            return None
        layout = induced
    return layout
