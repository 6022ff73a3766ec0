"""The site's time zone, defined once: a time on its pages without a zone is in it (the
date rules), and exports, feeds and search show stored times in it. Migration 0003 names
it in SQL too (a migration is history: it is not edited)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

SITE_ZONE = "Asia/Shanghai"
SITE_TZ = ZoneInfo(SITE_ZONE)
