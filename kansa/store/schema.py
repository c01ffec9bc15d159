"""The schema, as numbered migrations written once for every engine, and the schema the code
expects them to produce (checked by ``tests/store/test_schema.py``).

Statements use ``{int}``, ``{bigint}``, ``{blob}`` and ``{text}`` for the column types that
differ between engines, and ``{partition_key}`` / ``{partitioned}`` for PostgreSQL's monthly
partitioning of ``events``; :func:`render` fills them in. A statement that only one engine
runs is wrapped in :class:`Only`. Every key and index starts with the tenant, so the schema
can be distributed by tenant.

Where the engines differ, and why: a PostgreSQL partitioned table can only have unique
indexes that include the partition key (``occurred_at``), so there the primary key of
``events`` carries ``occurred_at`` and client-id idempotency lives in ``event_keys``, a
plain table keyed by ``(tenant_id, client_id)``. SQLite keeps its unique indexes on
``events`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kansa.integrity.chain import GENESIS

DIALECTS: dict[str, dict[str, str]] = {
    "sqlite": {
        "int": "INTEGER",
        "bigint": "INTEGER",
        "blob": "BLOB",
        "text": "TEXT",
        "partition_key": "",
        "partitioned": "",
    },
    "postgresql": {
        "int": "INTEGER",
        "bigint": "BIGINT",
        "blob": "BYTEA",
        "text": "TEXT",
        "partition_key": ", occurred_at",
        "partitioned": " PARTITION BY RANGE (occurred_at)",
    },
}


@dataclass(frozen=True, slots=True)
class Only:
    """A statement that only ``dialect`` runs."""

    dialect: str
    sql: str


Statement = str | Only


MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version {int} PRIMARY KEY, name {text} NOT NULL, applied_at {bigint} NOT NULL)"
)
"""Which migrations a database has had (made before the first of them)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[Statement, ...]

    def statements_for(self, dialect: str) -> list[str]:
        """The statements ``dialect`` runs, in order, ready to execute."""
        return [sql for sql in (render(s, dialect) for s in self.statements) if sql]


# -- append-only -----------------------------------------------------------------------
#
# ``events`` (and PostgreSQL's ``event_keys``) refuse UPDATE always, and DELETE except from
# the retention purge; ``checkpoints`` refuse both always. The purge's exception cannot be
# taken by accident: on SQLite a DELETE passes only for a row covered by a row of
# ``purge_permits`` (tenant, through seq), which the purge inserts and deletes inside its own
# transaction; on PostgreSQL only in a transaction that ran
# ``set_config('kansa.purge', 'on', true)`` (SET LOCAL). TRUNCATE is refused on PostgreSQL.

_REFUSE = "kansa: {table} is append-only: {what} refused"


def _sqlite_refusal(table: str, op: str, when: str = "") -> Only:
    what = op if not when else f"{op} outside the retention purge"
    message = _REFUSE.format(table=table, what=what)
    return Only(
        "sqlite",
        f"CREATE TRIGGER {table}_refuse_{op.lower()} BEFORE {op} ON {table}{when}"
        f" BEGIN SELECT RAISE(ABORT, '{message}'); END",
    )


_PERMITTED = (
    " WHEN NOT EXISTS (SELECT 1 FROM purge_permits p"
    " WHERE p.tenant_id = OLD.tenant_id AND OLD.seq <= p.through_seq)"
)
_PG_REFUSE = Only(
    "postgresql",
    """CREATE FUNCTION kansa_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'kansa: % is append-only: % refused', TG_TABLE_NAME,
            CASE WHEN TG_OP = 'DELETE' THEN 'DELETE outside the retention purge' ELSE TG_OP END
            USING ERRCODE = 'restrict_violation';
    END
    $$""",
)


def _pg_refusal(table: str, op: str, purge_may: bool = False) -> Only:
    when = " WHEN (current_setting('kansa.purge', true) IS DISTINCT FROM 'on')" if purge_may else ""
    each = "STATEMENT" if op == "TRUNCATE" else "ROW"
    return Only(
        "postgresql",
        f"CREATE TRIGGER {table}_refuse_{op.lower()} BEFORE {op} ON {table}"
        f" FOR EACH {each}{when} EXECUTE FUNCTION kansa_refuse_change()",
    )


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
                PRIMARY KEY (tenant_id, seq{partition_key})
            ){partitioned}""",
            Only("sqlite", "CREATE UNIQUE INDEX events_client_id ON events (tenant_id, client_id)"),
            "CREATE INDEX events_tenant_time ON events (tenant_id, occurred_at)",
            "CREATE INDEX events_tenant_actor ON events (tenant_id, actor_id, occurred_at)",
            "CREATE INDEX events_tenant_category ON events (tenant_id, category, occurred_at)",
            Only("sqlite", "CREATE UNIQUE INDEX events_id ON events (id)"),
            Only("postgresql", "CREATE INDEX events_tenant_id ON events (tenant_id, id)"),
            Only(
                "postgresql",
                """CREATE TABLE event_keys (
                    tenant_id TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    id TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    hash TEXT NOT NULL,
                    occurred_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, client_id)
                )""",
            ),
        ),
    ),
    Migration(
        2,
        "search columns, job index, accounts, instance secrets",
        (
            "ALTER TABLE events ADD COLUMN service {text}",
            "ALTER TABLE events ADD COLUMN search_text {text} NOT NULL DEFAULT ''",
            "CREATE INDEX events_tenant_job ON events (tenant_id, correlation_id, seq)",
            "ALTER TABLE tenants ADD COLUMN record_searches {int} NOT NULL DEFAULT 0",
            """CREATE TABLE accounts (
                tenant_id {text} NOT NULL REFERENCES tenants (id),
                login {text} NOT NULL,
                name {text} NOT NULL,
                role {text} NOT NULL,
                password_hash {text} NOT NULL,
                failures {int} NOT NULL DEFAULT 0,
                locked_until {bigint},
                created_at {bigint} NOT NULL,
                PRIMARY KEY (tenant_id, login)
            )""",
            """CREATE TABLE instance_secrets (
                name {text} PRIMARY KEY,
                value {blob} NOT NULL,
                created_at {bigint} NOT NULL
            )""",
        ),
    ),
    Migration(
        3,
        "append-only triggers, checkpoints, chain start, retention and legal hold",
        (
            "ALTER TABLE tenants ADD COLUMN chain_start_seq {bigint} NOT NULL DEFAULT 1",
            "ALTER TABLE tenants ADD COLUMN chain_start_hash {text} NOT NULL"
            f" DEFAULT '{GENESIS}'",
            "ALTER TABLE tenants ADD COLUMN checkpoint_seq {bigint} NOT NULL DEFAULT 0",
            "ALTER TABLE tenants ADD COLUMN checkpoint_at {bigint}",
            "ALTER TABLE tenants ADD COLUMN retention {text}",
            "ALTER TABLE tenants ADD COLUMN legal_hold {text}",
            "ALTER TABLE tenants ADD COLUMN legal_hold_since {bigint}",
            """CREATE TABLE checkpoints (
                tenant_id {text} NOT NULL,
                seq {bigint} NOT NULL,
                head_hash {text} NOT NULL,
                signed_at {bigint} NOT NULL,
                key_id {text} NOT NULL,
                signature {text} NOT NULL,
                PRIMARY KEY (tenant_id, seq)
            )""",
            Only(
                "sqlite",
                """CREATE TABLE purge_permits (
                    tenant_id TEXT PRIMARY KEY,
                    through_seq INTEGER NOT NULL
                )""",
            ),
            _sqlite_refusal("events", "UPDATE"),
            _sqlite_refusal("events", "DELETE", _PERMITTED),
            _sqlite_refusal("checkpoints", "UPDATE"),
            _sqlite_refusal("checkpoints", "DELETE"),
            Only("postgresql", "CREATE INDEX event_keys_tenant_seq ON event_keys (tenant_id, seq)"),
            _PG_REFUSE,
            _pg_refusal("events", "UPDATE"),
            _pg_refusal("events", "DELETE", purge_may=True),
            _pg_refusal("events", "TRUNCATE"),
            _pg_refusal("event_keys", "UPDATE"),
            _pg_refusal("event_keys", "DELETE", purge_may=True),
            _pg_refusal("event_keys", "TRUNCATE"),
            _pg_refusal("checkpoints", "UPDATE"),
            _pg_refusal("checkpoints", "DELETE"),
            _pg_refusal("checkpoints", "TRUNCATE"),
        ),
    ),
    Migration(
        4,
        "session ends: console sessions ended on the server (sign-out, account, tenant)",
        (
            """CREATE TABLE session_ends (
                tenant_id {text} NOT NULL REFERENCES tenants (id),
                subject {text} NOT NULL,
                ended_at {bigint} NOT NULL,
                expires_at {bigint},
                PRIMARY KEY (tenant_id, subject)
            )""",
        ),
    ),
    Migration(
        5,
        "streaming: destinations and a delivery cursor per destination and tenant",
        (
            """CREATE TABLE destinations (
                id {text} PRIMARY KEY,
                tenant_id {text} REFERENCES tenants (id),
                name {text} NOT NULL,
                kind {text} NOT NULL,
                config {text} NOT NULL,
                secret {blob},
                filter {text} NOT NULL,
                start {text} NOT NULL,
                paused {int} NOT NULL DEFAULT 0,
                created_at {bigint} NOT NULL
            )""",
            "CREATE INDEX destinations_tenant ON destinations (tenant_id)",
            """CREATE TABLE stream_cursors (
                tenant_id {text} NOT NULL REFERENCES tenants (id),
                destination_id {text} NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
                delivered_seq {bigint} NOT NULL,
                delivered_at {bigint},
                pending_last {bigint},
                failures {int} NOT NULL DEFAULT 0,
                degraded {int} NOT NULL DEFAULT 0,
                next_attempt_at {bigint} NOT NULL DEFAULT 0,
                lease_owner {text},
                lease_until {bigint},
                last_error {text},
                PRIMARY KEY (tenant_id, destination_id)
            )""",
        ),
    ),
)


def render(statement: Statement, dialect: str) -> str:
    """``statement`` as ``dialect`` runs it; empty when it is another engine's alone."""
    if isinstance(statement, Only):
        if statement.dialect != dialect:
            return ""
        statement = statement.sql
    return statement.format(**DIALECTS[dialect])


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
    ("service", "params.service"),
    ("search_text", "search_text"),  # derived: kansa.events.prepare.search_text of the event
)

# -- the schema the migrations must produce -------------------------------------------------

# Every column of ``events``, in the order the stores write a row.
EVENT_ROW: tuple[str, ...] = (
    "tenant_id",
    "seq",
    "id",
    "client_id",
    "occurred_at",
    "received_at",
    "app",
    "product",
    "action",
    "category",
    "history",
    "result",
    "level",
    "actor_id",
    "actor_login",
    "actor_name",
    "ip",
    "target_id",
    "target_name",
    "correlation_id",
    "trace_id",
    "message_ja",
    "message_en",
    "body",
    "hash",
    "prev_hash",
    "service",
    "search_text",
)

# Every column of ``checkpoints``, in the order the stores write a row.
CHECKPOINT_ROW: tuple[str, ...] = (
    "tenant_id",
    "seq",
    "head_hash",
    "signed_at",
    "key_id",
    "signature",
)

# Every column of ``destinations``, in the order the stores write a row.
DESTINATION_ROW: tuple[str, ...] = (
    "id",
    "tenant_id",
    "name",
    "kind",
    "config",
    "secret",
    "filter",
    "start",
    "paused",
    "created_at",
)

# Every column of ``event_keys`` (PostgreSQL), in the order the store writes a row.
EVENT_KEY_ROW: tuple[str, ...] = ("tenant_id", "client_id", "id", "seq", "hash", "occurred_at")


@dataclass(frozen=True, slots=True)
class Index:
    table: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True, slots=True)
class Declared:
    """The schema an engine's database has after every migration."""

    tables: dict[str, tuple[str, ...]]
    primary_keys: dict[str, tuple[str, ...]]
    indexes: dict[str, Index]
    triggers: dict[str, str] = field(default_factory=dict)
    """Trigger name → the table it guards."""


_TABLES: dict[str, tuple[str, ...]] = {
    "schema_migrations": ("version", "name", "applied_at"),
    "tenants": (
        "id",
        "name",
        "layout",
        "tz",
        "lang",
        "created_at",
        "last_seq",
        "last_hash",
        "record_searches",
        "chain_start_seq",
        "chain_start_hash",
        "checkpoint_seq",
        "checkpoint_at",
        "retention",
        "legal_hold",
        "legal_hold_since",
    ),
    "accounts": (
        "tenant_id",
        "login",
        "name",
        "role",
        "password_hash",
        "failures",
        "locked_until",
        "created_at",
    ),
    "instance_secrets": ("name", "value", "created_at"),
    "applications": ("name", "created_at"),
    "api_keys": ("id", "app", "tenant_id", "scopes", "secret_hash", "created_at", "revoked_at"),
    "events": EVENT_ROW,
    "checkpoints": CHECKPOINT_ROW,
    "session_ends": ("tenant_id", "subject", "ended_at", "expires_at"),
    "destinations": DESTINATION_ROW,
    "stream_cursors": (
        "tenant_id",
        "destination_id",
        "delivered_seq",
        "delivered_at",
        "pending_last",
        "failures",
        "degraded",
        "next_attempt_at",
        "lease_owner",
        "lease_until",
        "last_error",
    ),
}
_KEYS: dict[str, tuple[str, ...]] = {
    "schema_migrations": ("version",),
    "tenants": ("id",),
    "applications": ("name",),
    "api_keys": ("id",),
    "accounts": ("tenant_id", "login"),
    "instance_secrets": ("name",),
    "checkpoints": ("tenant_id", "seq"),
    "session_ends": ("tenant_id", "subject"),
    "destinations": ("id",),
    "stream_cursors": ("tenant_id", "destination_id"),
}
_EVENT_INDEXES: dict[str, Index] = {
    "events_tenant_time": Index("events", ("tenant_id", "occurred_at")),
    "events_tenant_actor": Index("events", ("tenant_id", "actor_id", "occurred_at")),
    "events_tenant_category": Index("events", ("tenant_id", "category", "occurred_at")),
    "events_tenant_job": Index("events", ("tenant_id", "correlation_id", "seq")),
    "destinations_tenant": Index("destinations", ("tenant_id",)),
}

DECLARED: dict[str, Declared] = {
    "sqlite": Declared(
        tables=_TABLES | {"purge_permits": ("tenant_id", "through_seq")},
        primary_keys=_KEYS | {"events": ("tenant_id", "seq"), "purge_permits": ("tenant_id",)},
        indexes=_EVENT_INDEXES
        | {
            "events_client_id": Index("events", ("tenant_id", "client_id"), unique=True),
            "events_id": Index("events", ("id",), unique=True),
        },
        triggers={
            f"{table}_refuse_{op}": table
            for table in ("events", "checkpoints")
            for op in ("update", "delete")
        },
    ),
    "postgresql": Declared(
        tables=_TABLES | {"event_keys": EVENT_KEY_ROW},
        primary_keys=_KEYS
        | {"events": ("tenant_id", "seq", "occurred_at"), "event_keys": ("tenant_id", "client_id")},
        indexes=_EVENT_INDEXES
        | {
            "events_tenant_id": Index("events", ("tenant_id", "id")),
            "event_keys_tenant_seq": Index("event_keys", ("tenant_id", "seq")),
        },
        triggers={
            f"{table}_refuse_{op}": table
            for table in ("events", "event_keys", "checkpoints")
            for op in ("update", "delete", "truncate")
        },
    ),
}
