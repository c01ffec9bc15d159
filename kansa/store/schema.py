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
    fill: str | None = None
    """What the store fills in Python after the statements (:data:`FILL_TERMS`), if anything."""
    then: tuple[Statement, ...] = ()
    """Statements run after the fill (an index built once its rows are there)."""

    def statements_for(self, dialect: str) -> list[str]:
        """The statements ``dialect`` runs before the fill, in order, ready to execute."""
        return [sql for sql in (render(s, dialect) for s in self.statements) if sql]

    def then_for(self, dialect: str) -> list[str]:
        """The statements ``dialect`` runs after the fill."""
        return [sql for sql in (render(s, dialect) for s in self.then) if sql]


PARTITION_STORAGE = "toast_tuple_target = 4000"
"""How each partition of ``events`` stores its rows (PostgreSQL). A row is cut up into TOAST
once it passes the target, its largest value first — the body, which every search returns;
with the index terms the average row is ~2,470 bytes, past the default ~2,000, and a search
then read each body it returned a second time, out of line (newest 50 of 100,000 events:
p50 0.44 ms, 0.29 ms with the rows whole). New rows only: rows stored before stay as they are."""


def partition_statistics(partition: str, statistics: str) -> str:
    """The statement making PostgreSQL keep, for one partition, how often the kinds searched
    together (history, category, result, level) occur in each combination: ``statistics``
    (``<partition>_kinds``), both named safely by the caller. Without it the planner multiplies
    each column's share: ``category = 'login' AND result = 'failure'`` was estimated at 45 rows
    of a month where 581 were, and it read every login event of the window to sort them rather
    than the index newest first until 50 matched (30 → 4 ms at 400,000 events). Taken again by
    each ANALYZE, autovacuum's among them."""
    return (
        f"CREATE STATISTICS IF NOT EXISTS {statistics} (mcv, dependencies)"
        f" ON history, category, result, level FROM {partition}"
    )


WINDOW_INDEX = "events_tenant_time_kinds"
WINDOW_COLUMNS = ("tenant_id", "occurred_at", "history", "category", "result", "level", "action")
"""The index a search reads a tenant's window by, newest (or oldest) first: the time, then the
kinds a search filters by, tested in the index before a row is read (migration 17)."""

FILL_TERMS = "terms"
"""The fill that writes the free-text index terms of every stored, unpruned event."""
TERMS_TABLE = "event_terms"
"""SQLite's free-text index: an FTS5 table whose rowid is the ``events`` row's."""


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


OLD_EVENTS = "events_old"
"""PostgreSQL's DEFAULT partition of ``events``: the events of every month that has no
partition of its own (older than a year when they arrived), so that back-dated events make
no partition each."""
PARTITION_TRUNCATE = "partition_refuse_truncate"
"""The trigger made on every partition of ``events``: TRUNCATE of the parent does not reach
a partition truncated on its own, and statement triggers are not cloned to partitions."""


def partition_truncate_trigger(partition: str) -> str:
    """The statement that refuses TRUNCATE on one partition (named safely by the caller)."""
    return (
        f"CREATE TRIGGER {PARTITION_TRUNCATE} BEFORE TRUNCATE ON {partition}"
        " FOR EACH STATEMENT EXECUTE FUNCTION kansa_refuse_change()"
    )


def each_partition(command: str) -> Only:
    """A PostgreSQL statement running ``command`` on every partition of ``events`` there is
    now, the partition's name in place of its ``%s`` (or of each ``%1$s``; no other quote in it)."""
    return Only(
        "postgresql",
        f"""DO $$
        DECLARE part regclass;
        BEGIN
            FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                WHERE inhparent = 'events'::regclass LOOP
                EXECUTE format('{command}', part);
            END LOOP;
        END $$""",
    )


_PG_GUARDS = (
    Only("postgresql", f"CREATE TABLE {OLD_EVENTS} PARTITION OF events DEFAULT"),
    each_partition(partition_truncate_trigger("%s")),
    Only(
        "postgresql",
        """CREATE FUNCTION kansa_refuse_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
        DECLARE gone record;
        BEGIN
            FOR gone IN SELECT * FROM pg_event_trigger_dropped_objects()
                WHERE object_type = 'table' AND schema_name = current_schema() LOOP
                IF gone.object_name IN ('events', 'event_keys', 'checkpoints', 'tenants')
                    OR gone.object_name LIKE 'events\\_y%' OR gone.object_name = 'events_old' THEN
                    RAISE EXCEPTION 'kansa: % is append-only: DROP refused', gone.object_name
                        USING ERRCODE = 'restrict_violation';
                END IF;
            END LOOP;
        END
        $$""",
    ),
    Only(
        "postgresql",
        """CREATE FUNCTION kansa_refuse_alter() RETURNS event_trigger LANGUAGE plpgsql AS $$
        DECLARE changed record;
        BEGIN
            IF current_setting('kansa.migrate', true) = 'on' THEN
                RETURN;
            END IF;
            FOR changed IN SELECT * FROM pg_event_trigger_ddl_commands()
                WHERE object_type = 'table' LOOP
                IF changed.objid IN (to_regclass('events'), to_regclass('event_keys'),
                        to_regclass('checkpoints'))
                    OR changed.objid IN (SELECT inhrelid FROM pg_inherits
                        WHERE inhparent = to_regclass('events')) THEN
                    RAISE EXCEPTION 'kansa: % is append-only: ALTER TABLE refused',
                        changed.object_identity USING ERRCODE = 'restrict_violation';
                END IF;
            END LOOP;
        END
        $$""",
    ),
)
"""PostgreSQL: old events in one partition, TRUNCATE refused on each partition, and the
functions of the event triggers that refuse DROP and ALTER (DETACH PARTITION, DISABLE
TRIGGER) of the append-only tables. Creating an event trigger takes a superuser, so the store
makes them on :meth:`migrate` when it runs as one (see docs/operations.md)."""


def _pg_refusal(table: str, op: str, purge_may: bool = False) -> Only:
    when = " WHEN (current_setting('kansa.purge', true) IS DISTINCT FROM 'on')" if purge_may else ""
    each = "STATEMENT" if op == "TRUNCATE" else "ROW"
    return Only(
        "postgresql",
        f"CREATE TRIGGER {table}_refuse_{op.lower()} BEFORE {op} ON {table}"
        f" FOR EACH {each}{when} EXECUTE FUNCTION kansa_refuse_change()",
    )


_PRUNE_ONLY = (
    "OLD.pruned IS NULL AND NEW.pruned IS NOT NULL AND NEW.tenant_id = OLD.tenant_id"
    " AND NEW.seq = OLD.seq AND NEW.hash = OLD.hash AND NEW.prev_hash = OLD.prev_hash"
    " AND NEW.occurred_at = OLD.occurred_at AND NEW.action = OLD.action"
)
"""The one UPDATE ``events`` takes: a prune, which removes content and changes nothing the
chain or the time and action of the event stand on."""

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
        "no token secret in the database: it is derived from the signing key",
        ("DROP TABLE instance_secrets",),
    ),
    Migration(
        6,
        "PostgreSQL: old events in one partition; TRUNCATE, DROP, DETACH of partitions refused",
        _PG_GUARDS,
    ),
    Migration(
        7,
        "pruned events: the content removed, a commitment kept (retention and erasure)",
        (
            "ALTER TABLE events ADD COLUMN pruned {text}",
            "ALTER TABLE events ADD COLUMN commitment {blob}",
            # SQLite: an UPDATE passes only as a prune of rows a permit covers.
            Only("sqlite", "DROP TRIGGER events_refuse_update"),
            _sqlite_refusal(
                "events",
                "UPDATE",
                " WHEN NOT (" + _PRUNE_ONLY + " AND EXISTS (SELECT 1 FROM purge_permits p"
                " WHERE p.tenant_id = OLD.tenant_id AND OLD.seq <= p.through_seq))",
            ),
            # PostgreSQL: only as a prune, in a transaction that switched kansa.purge on.
            Only("postgresql", "DROP TRIGGER events_refuse_update ON events"),
            Only(
                "postgresql",
                "CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events FOR EACH ROW"
                " WHEN (current_setting('kansa.purge', true) IS DISTINCT FROM 'on' OR NOT ("
                + _PRUNE_ONLY
                + ")) EXECUTE FUNCTION kansa_refuse_change()",
            ),
        ),
    ),
    Migration(
        8,
        "event ids unique per tenant (SQLite), as every key of tenant data starts with it",
        (
            Only("sqlite", "DROP INDEX events_id"),
            Only("sqlite", "CREATE UNIQUE INDEX events_tenant_id ON events (tenant_id, id)"),
        ),
    ),
    Migration(
        9,
        "scopes split: read keys keep minting, holds and checkpoints as scopes of their own",
        # A key's scopes are kept sorted and comma-separated; before this migration a key had
        # publish, read or both, and read let it mint viewer tokens, place legal holds and
        # sign checkpoints: now the scopes mint, hold and checkpoint.
        (
            "UPDATE api_keys SET scopes = 'checkpoint,hold,mint,read' WHERE scopes = 'read'",
            "UPDATE api_keys SET scopes = 'checkpoint,hold,mint,publish,read'"
            " WHERE scopes = 'publish,read'",
        ),
    ),
    Migration(
        10,
        "credentials lifecycle: key expiry, rotation and last use, disabled accounts, retired"
        " tenants",
        (
            "ALTER TABLE api_keys ADD COLUMN expires_at {bigint}",
            "ALTER TABLE api_keys ADD COLUMN last_used_at {bigint}",
            "ALTER TABLE api_keys ADD COLUMN previous_secret_hash {text}",
            "ALTER TABLE api_keys ADD COLUMN previous_until {bigint}",
            "ALTER TABLE api_keys ADD COLUMN changed_at {bigint} NOT NULL DEFAULT 0",
            "CREATE INDEX api_keys_changed ON api_keys (changed_at)",
            "ALTER TABLE accounts ADD COLUMN disabled_at {bigint}",
            "ALTER TABLE tenants ADD COLUMN retired_at {bigint}",
            "ALTER TABLE tenants ADD COLUMN retired_reason {text}",
        ),
    ),
    Migration(
        11,
        "signing keys: the public keys that signed this database's checkpoints",
        (
            """CREATE TABLE signing_keys (
                key_id {text} PRIMARY KEY,
                public_key {text} NOT NULL,
                created_at {bigint} NOT NULL,
                retired_at {bigint}
            )""",
        ),
    ),
    Migration(
        12,
        "tenant region: where a tenant's product runs (Cybozu: JP, US, CN)",
        ("ALTER TABLE tenants ADD COLUMN region {text}",),
    ),
    Migration(
        13,
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
    Migration(
        14,
        "free-text index: the terms of each event's search text (SQLite FTS5, PostgreSQL GIN)",
        (
            # detail=none: which rows hold a term, nothing more; columnsize=0: no sizes kept
            # (nothing is ranked); the ascii tokenizer never splits a term kansa made (ASCII
            # letters and digits, or other characters, which it keeps whole).
            Only(
                "sqlite",
                f"CREATE VIRTUAL TABLE {TERMS_TABLE} USING fts5(terms, detail=none,"
                " columnsize=0, tokenize='ascii')",
            ),
            Only(
                "sqlite",
                f"CREATE TRIGGER events_terms_delete AFTER DELETE ON events"
                f" BEGIN DELETE FROM {TERMS_TABLE} WHERE rowid = OLD.rowid; END",
            ),
            Only(
                "sqlite",
                "CREATE TRIGGER events_terms_prune AFTER UPDATE OF pruned ON events"
                f" WHEN NEW.pruned IS NOT NULL"
                f" BEGIN DELETE FROM {TERMS_TABLE} WHERE rowid = OLD.rowid; END",
            ),
            Only("postgresql", "ALTER TABLE events ADD COLUMN terms tsvector"),
        ),
        fill=FILL_TERMS,
        then=(Only("postgresql", "CREATE INDEX events_terms ON events USING gin (terms)"),),
    ),
    Migration(
        15,
        "rows of events kept whole up to 4,000 bytes (PostgreSQL partitions)",
        (each_partition(f"ALTER TABLE %s SET ({PARTITION_STORAGE})"),),
    ),
    Migration(
        16,
        "statistics of the kinds searched together (history, category, result, level)",
        (
            each_partition(partition_statistics("%1$s", "%1$s_kinds")),
            each_partition("ANALYZE %s"),  # the statistics exist from their first ANALYZE
        ),
    ),
    Migration(
        17,
        "one index for a tenant's window and the kinds of its events, for two",
        (
            # A search by result, level, action or history read every row of the window to
            # test it; with the kinds in the index beside the time, a row that does not match
            # is never read. A category is tested there too: newest first, as its own index
            # read it, though a rare one now passes over the window's other entries.
            f"CREATE INDEX {WINDOW_INDEX} ON events ({', '.join(WINDOW_COLUMNS)})",
            "DROP INDEX events_tenant_time",
            "DROP INDEX events_tenant_category",
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

# The columns of ``events`` that carry an event's content, emptied when it is pruned (with
# ``body``): NULL, or '' where the column is NOT NULL. Kept: tenant, seq, id, client id (the
# idempotency key), times, app, product, action, category, history, result, level, hashes.
PRUNED_TO_NULL: tuple[str, ...] = (
    "actor_id",
    "actor_login",
    "actor_name",
    "ip",
    "target_id",
    "target_name",
    "correlation_id",
    "trace_id",
    "service",
)
PRUNED_TO_EMPTY: tuple[str, ...] = ("message_ja", "message_en", "search_text")

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

# The columns of ``events`` an append leaves NULL and only a prune writes.
PRUNE_ROW: tuple[str, ...] = ("pruned", "commitment")

# PostgreSQL's column of index terms (a tsvector), written by the append after EVENT_ROW.
TERMS_ROW: tuple[str, ...] = ("terms",)

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
    text_indexes: dict[str, str] = field(default_factory=dict)
    """A table (or index) that is a free-text index → the table it indexes: keyed by the
    indexed row, its terms carry the tenant (:func:`kansa.events.terms.tenant_term`)."""


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
        "retired_at",
        "retired_reason",
        "region",
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
        "disabled_at",
    ),
    "applications": ("name", "created_at"),
    "api_keys": (
        "id",
        "app",
        "tenant_id",
        "scopes",
        "secret_hash",
        "created_at",
        "revoked_at",
        "expires_at",
        "last_used_at",
        "previous_secret_hash",
        "previous_until",
        "changed_at",
    ),
    "events": (*EVENT_ROW, *PRUNE_ROW),
    "checkpoints": CHECKPOINT_ROW,
    "session_ends": ("tenant_id", "subject", "ended_at", "expires_at"),
    "signing_keys": ("key_id", "public_key", "created_at", "retired_at"),
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
    "checkpoints": ("tenant_id", "seq"),
    "session_ends": ("tenant_id", "subject"),
    "signing_keys": ("key_id",),
    "destinations": ("id",),
    "stream_cursors": ("tenant_id", "destination_id"),
}
_EVENT_INDEXES: dict[str, Index] = {
    WINDOW_INDEX: Index("events", WINDOW_COLUMNS),
    "events_tenant_actor": Index("events", ("tenant_id", "actor_id", "occurred_at")),
    "events_tenant_job": Index("events", ("tenant_id", "correlation_id", "seq")),
    "api_keys_changed": Index("api_keys", ("changed_at",)),
    "destinations_tenant": Index("destinations", ("tenant_id",)),
}

DECLARED: dict[str, Declared] = {
    "sqlite": Declared(
        tables=_TABLES | {"purge_permits": ("tenant_id", "through_seq"), TERMS_TABLE: ("terms",)},
        primary_keys=_KEYS
        | {"events": ("tenant_id", "seq"), "purge_permits": ("tenant_id",), TERMS_TABLE: ()},
        indexes=_EVENT_INDEXES
        | {
            "events_client_id": Index("events", ("tenant_id", "client_id"), unique=True),
            "events_tenant_id": Index("events", ("tenant_id", "id"), unique=True),
        },
        triggers={
            f"{table}_refuse_{op}": table
            for table in ("events", "checkpoints")
            for op in ("update", "delete")
        }
        | {"events_terms_delete": "events", "events_terms_prune": "events"},
        text_indexes={TERMS_TABLE: "events"},
    ),
    "postgresql": Declared(
        tables=_TABLES
        | {"event_keys": EVENT_KEY_ROW, "events": (*EVENT_ROW, *PRUNE_ROW, *TERMS_ROW)},
        primary_keys=_KEYS
        | {"events": ("tenant_id", "seq", "occurred_at"), "event_keys": ("tenant_id", "client_id")},
        indexes=_EVENT_INDEXES
        | {
            "events_tenant_id": Index("events", ("tenant_id", "id")),
            "event_keys_tenant_seq": Index("event_keys", ("tenant_id", "seq")),
            "events_terms": Index("events", TERMS_ROW),
        },
        triggers={
            f"{table}_refuse_{op}": table
            for table in ("events", "event_keys", "checkpoints")
            for op in ("update", "delete", "truncate")
        },
        text_indexes={"events_terms": "events"},
    ),
}
