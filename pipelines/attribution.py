"""Source, source_title and author; the attribution and trailer lines leave the body."""

from __future__ import annotations

from typing import Any

from pipelines import stats_keys as keys
from pipelines._base import StatsPipeline
from pipelines.items import ArticleItem
from pipelines.rules.attribution import attribute


class AttributionPipeline(StatsPipeline):
    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        attributed = attribute(item.paragraphs, item.info_parts)
        item.paragraphs = attributed.paragraphs
        item.body = "\n".join(attributed.paragraphs)
        item.source = attributed.source
        item.source_title = attributed.source_title
        item.author = attributed.author
        if item.source is None and item.source_title is None:
            self.stats.inc_value(keys.ATTRIBUTION_NONE)
        return item
