"""The extraction rules of the data contract, as pure helpers: ``str | None`` in, a clean
value (or None) out, never raising on junk. The spider, the pipelines, the tests and the
benchmarks all import them from here.

| rule | module |
|---|---|
| title and body paragraphs (``clean_text``, ``clean_title``, ``element_paragraphs``) | ``text`` |
| source, source_title, author; the body's tail lines (``attribute``) | ``attribution`` |
| published_at, date_precision (``parse_published``), a listing's day (``parse_day``) | ``dates`` |
| the page's real encoding (``decode_html``) | ``encoding`` |
| is the page the article its listing promised (``headline_agrees``, ``is_cut``) | ``suspect`` |
"""

from pipelines.rules.attribution import (
    AttributedBody,
    Attribution,
    attribute,
    is_trailer,
    parse_attribution,
    parse_author,
    parse_byline,
)
from pipelines.rules.dates import (
    SHANGHAI,
    ParsedDate,
    is_future,
    parse_day,
    parse_published,
    strip_label,
    why_unparsed,
)
from pipelines.rules.encoding import Decoded, declared_encoding, decode_html
from pipelines.rules.suspect import headline_agrees, is_cut, text_length
from pipelines.rules.text import clean_text, clean_title, element_paragraphs, html_paragraphs

__all__ = [
    "SHANGHAI",
    "AttributedBody",
    "Attribution",
    "Decoded",
    "ParsedDate",
    "attribute",
    "clean_text",
    "clean_title",
    "declared_encoding",
    "decode_html",
    "element_paragraphs",
    "headline_agrees",
    "html_paragraphs",
    "is_cut",
    "is_future",
    "is_trailer",
    "parse_attribution",
    "parse_author",
    "parse_byline",
    "parse_day",
    "parse_published",
    "strip_label",
    "text_length",
    "why_unparsed",
]
