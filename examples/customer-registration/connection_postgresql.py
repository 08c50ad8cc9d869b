"""The database connection (seed: src/infra/connection_postgresql.py).

Settings come from the environment, as the seed's `.env` gave them: DB_HOST, DB_PORT,
DB_NAME, DB_USER, DB_PASSWORD. DB_SCHEMA (optional) puts the table in its own schema,
which is how `run` keeps each run apart on a shared database.
"""

import os

import psycopg


def connect() -> psycopg.Connection:
    schema = os.environ.get("DB_SCHEMA")
    return psycopg.connect(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DB_PORT", "5432")),
        dbname=os.environ.get("DB_NAME", "test"),
        user=os.environ.get("DB_USER", "postgres"),
        password=os.environ.get("DB_PASSWORD") or None,
        options=f"-c search_path={schema}" if schema else None,
        connect_timeout=5,
    )
