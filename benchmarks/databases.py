"""Throwaway databases for the benchmark: SQLite files, PostgreSQL databases on the server
that scripts/with-services.sh starts (ECNEWS_TEST_POSTGRES_URL), each migrated before use
so that no measurement includes creating the schema."""

from __future__ import annotations

import shutil
import sqlite3
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import Database, get_database

if TYPE_CHECKING:
    from pathlib import Path

POSTGRES_ENV = "ECNEWS_TEST_POSTGRES_URL"


class Databases:
    """Makes and drops the databases of one benchmark run, by name."""

    def __init__(self, workdir: Path, postgres_admin_url: str | None) -> None:
        self.workdir = workdir
        self.admin_url = postgres_admin_url
        self._made: list[str] = []

    def url(self, kind: str, name: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        assert self.admin_url is not None, "no PostgreSQL"
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def fresh(
        self, kind: str, name: str, *, migrate: bool = True, template: str | None = None
    ) -> str:
        """An empty database (or a copy of ``template``), migrated to the head revision."""
        url = self.url(kind, name)
        if kind == "sqlite":
            if template is not None:
                source = self.workdir / (template + ".db")
                with sqlite3.connect(source) as conn:  # fold the WAL in: one file to copy
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                shutil.copyfile(source, self.workdir / (name + ".db"))
        else:
            clause = f' TEMPLATE "{template}"' if template else ""
            self._admin(f'CREATE DATABASE "{name}"{clause}')
            self._made.append(name)
        if migrate:
            Database(url).dispose()
        return url

    def drop(self, kind: str, name: str) -> None:
        # Forget the engines the spider and pipelines opened (process-wide cache); a
        # PostgreSQL drop ends their sessions (FORCE), SQLite files just go.
        get_database.cache_clear()
        if kind == "sqlite":
            for suffix in (".db", ".db-wal", ".db-shm"):
                (self.workdir / (name + suffix)).unlink(missing_ok=True)
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if name in self._made:
                self._made.remove(name)

    def close(self) -> None:
        for name in list(self._made):
            self.drop("postgresql", name)

    def _admin(self, statement: str) -> None:
        assert self.admin_url is not None
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(statement))
        engine.dispose()
