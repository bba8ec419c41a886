"""Postgres databases of the tests' own Airflow deployments: each a copy of one migrated template per test session.

Migrating Airflow's metadata database costs half a minute of CPU, a copy of a migrated one a second. The session's
template is named once by the pytest process that starts the session (`name_session_template`, before any test
process starts, so all inherit it), made by whichever test process needs it first, and dropped at the session's
end (`drop_session_template`; tests/conftest.py calls both).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg2

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TEMPLATE_DATABASE_ENV = "VEHICLE_PHOTOS_TEST_TEMPLATE_DB"


def postgres_url(database: str) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"


def database_copy(database: str) -> None:
    """Create `database` as a copy of the session's template (Airflow's metadata database migrated, with the API
    pools), made first if no test process did yet. One process at a time: a template being copied must have no
    other session."""
    template = session_template()
    with _lock_file(template).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _admin_query("SELECT 1 FROM pg_database WHERE datname = %s", template):
            _admin(f'CREATE DATABASE "{template}"')
            try:
                _migrate(postgres_url(template))
            except BaseException:
                _admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                raise
        _admin(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')


def _migrate(url: str) -> None:
    from dev.local_airflow import airflow_environment, prepare

    with tempfile.TemporaryDirectory(prefix="airflow-template-") as home:
        prepare({**airflow_environment(Path(home), {}), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url})


def drop_database(database: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _admin(statement: str) -> None:
    _admin_query(statement)


def _admin_query(statement: str, *args: Any) -> list[tuple]:
    admin = psycopg2.connect(POSTGRES_ADMIN_URL)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(statement, args or None)
            return cursor.fetchall() if cursor.description else []
    finally:
        admin.close()


def name_session_template() -> None:
    os.environ.setdefault(TEMPLATE_DATABASE_ENV, f"vp_template_{uuid.uuid4().hex[:10]}")


def session_template() -> str:
    return os.environ.get(TEMPLATE_DATABASE_ENV) or f"vp_template_{os.getpid()}"


def drop_session_template() -> None:
    with contextlib.suppress(psycopg2.OperationalError):  # no Postgres here: no test made a template
        drop_database(session_template())
    _lock_file(session_template()).unlink(missing_ok=True)


def _lock_file(template: str) -> Path:
    return Path(tempfile.gettempdir()) / f"{template}.lock"
