"""The last check before storage: every article against the JSON schema of a clean
article (``pipelines/schemas/article.json``), compiled once with fastjsonschema and run
on a shallow dict of the clean fields, so it costs microseconds.

An invalid item is dropped and counted where Spidermon's ItemValidationMonitor reads
(``spidermon/validation/fields/errors``): the run fails (SPIDERMON_MAX_ITEM_VALIDATION_ERRORS).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import fastjsonschema
from scrapy.exceptions import DropItem

from pipelines import stats_keys as keys
from pipelines.items import ArticleItem

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

SCHEMA = Path(__file__).with_name("schemas") / "article.json"
# Spidermon's names, so that its ItemValidationMonitor judges the run.
FIELD_ERRORS = "spidermon/validation/fields/errors"
ITEMS_CHECKED = "spidermon/validation/items"


def compile_schema(path: Path) -> tuple[Callable[[Any], Any], tuple[str, ...]]:
    """The validator of a schema file, and the fields it speaks of."""
    schema = json.loads(path.read_text("utf-8"))
    return fastjsonschema.compile(schema), tuple(schema.get("properties", {}))


class SchemaCheckPipeline:
    def __init__(self, stats: StatsCollector, schema: Path = SCHEMA) -> None:
        self.stats = stats
        self.validate, self.fields = compile_schema(schema)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats, Path(crawler.settings.get("NEWS_ITEM_SCHEMA") or SCHEMA))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        self.stats.inc_value(ITEMS_CHECKED)
        values = {name: getattr(item, name) for name in self.fields}
        try:
            self.validate(values)
        except fastjsonschema.JsonSchemaValueException as error:
            field = (error.name or "data").removeprefix("data.") or "item"
            self.stats.inc_value(FIELD_ERRORS)
            self.stats.inc_value(f"{FIELD_ERRORS}/{error.rule}/{field}")
            self.stats.inc_value(f"{keys.INVALID_FIELD}{field}")
            logger.error("Invalid item %s: %s", item.url, error.message)
            raise DropItem(f"invalid {field}: {item.url}") from error
        return item
