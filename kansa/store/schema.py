"""The schema, as numbered migrations written once for every engine.

Statements use ``{int}``, ``{bigint}``, ``{blob}`` and ``{text}`` for the column types that
differ between engines; :func:`render` fills them in. Every key and index starts with the
tenant, so the schema can be distributed by tenant.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPES = {
    "sqlite": {"int": "INTEGER", "bigint": "INTEGER", "blob": "BLOB", "text": "TEXT"},
    "postgresql": {"int": "INTEGER", "bigint": "BIGINT", "blob": "BYTEA", "text": "TEXT"},
}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "tenants, applications, api keys, events",
        (
            """CREATE TABLE tenants (
                id {text} PRIMARY KEY,
                name {text},
                layout {text},
                tz {text} NOT NULL,
                lang {text} NOT NULL,
                created_at {bigint} NOT NULL,
                last_seq {bigint} NOT NULL DEFAULT 0,
                last_hash {text} NOT NULL
            )""",
            """CREATE TABLE applications (
                name {text} PRIMARY KEY,
                created_at {bigint} NOT NULL
            )""",
            """CREATE TABLE api_keys (
                id {text} PRIMARY KEY,
                app {text} NOT NULL REFERENCES applications (name),
                tenant_id {text} REFERENCES tenants (id),
                scopes {text} NOT NULL,
                secret_hash {text} NOT NULL,
                created_at {bigint} NOT NULL,
                revoked_at {bigint}
            )""",
            """CREATE TABLE events (
                tenant_id {text} NOT NULL,
                seq {bigint} NOT NULL,
                id {text} NOT NULL,
                client_id {text},
                occurred_at {bigint} NOT NULL,
                received_at {bigint} NOT NULL,
                app {text},
                product {text} NOT NULL,
                action {text} NOT NULL,
                category {text} NOT NULL,
                history {text} NOT NULL,
                result {text} NOT NULL,
                level {text} NOT NULL,
                actor_id {text},
                actor_login {text},
                actor_name {text},
                ip {text},
                target_id {text},
                target_name {text},
                correlation_id {text},
                trace_id {text},
                message_ja {text} NOT NULL,
                message_en {text} NOT NULL,
                body {blob} NOT NULL,
                hash {text} NOT NULL,
                prev_hash {text} NOT NULL,
                PRIMARY KEY (tenant_id, seq)
            )""",
            "CREATE UNIQUE INDEX events_client_id ON events (tenant_id, client_id)",
            "CREATE INDEX events_tenant_time ON events (tenant_id, occurred_at)",
            "CREATE INDEX events_tenant_actor ON events (tenant_id, actor_id, occurred_at)",
            "CREATE INDEX events_tenant_category ON events (tenant_id, category, occurred_at)",
            "CREATE UNIQUE INDEX events_id ON events (id)",
        ),
    ),
)


def render(statement: str, dialect: str) -> str:
    return statement.format(**TYPES[dialect])


# The columns of ``events`` that are kept beside the hashed bytes, and where each is found
# in the hashed event (checked by verify). Times are compared in their canonical text form.
EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("client_id", "client_id"),
    ("tenant_id", "tenant.id"),
    ("occurred_at", "occurred_at"),
    ("received_at", "received_at"),
    ("app", "app"),
    ("product", "product"),
    ("action", "action"),
    ("category", "category"),
    ("history", "history"),
    ("result", "result"),
    ("level", "level"),
    ("actor_id", "actor.id"),
    ("actor_login", "actor.login"),
    ("actor_name", "actor.name"),
    ("ip", "ip"),
    ("target_id", "targets.0.id"),
    ("target_name", "targets.0.name"),
    ("correlation_id", "correlation_id"),
    ("trace_id", "trace_id"),
    ("message_ja", "message.ja"),
    ("message_en", "message.en"),
)
