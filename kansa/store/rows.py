"""Records and rows, the same for every engine: the columns each table is read by, the
statements that write its rows, and the records those rows read back as.

Both engines keep time as microseconds since the epoch (UTC) and booleans as integers, so
nothing here depends on the engine but the parameter mark (``?`` or ``%s``). What does differ
— locking, transactions, connections and the bulk insert of events — stays in each engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kansa import records
from kansa.events.prepare import PreparedEvent
from kansa.integrity.chain import GENESIS, PRUNINGS, Pruning, StoredLink
from kansa.records import Account, AccountChanges, ApiKey, SigningKey, Tenant, TenantChanges
from kansa.store.checkpoints import retention_of, retention_text
from kansa.store.schema import EVENT_COLUMNS, PRUNED_TO_EMPTY, PRUNED_TO_NULL
from kansa.timeutil import from_micros, iso_utc, to_micros, utcnow
from kansa.words import lang_of, role_of

Row = tuple[Any, ...]
Bound = tuple[str, Row]
"""One SQL text and its parameters."""

# -- tenants -------------------------------------------------------------------------------

TENANT_COLUMNS = (
    "id, name, layout, tz, lang, created_at, last_seq, last_hash, record_searches,"
    " chain_start_seq, chain_start_hash, checkpoint_seq, checkpoint_at, retention,"
    " legal_hold, legal_hold_since, retired_at, retired_reason, region"
)
NEW_TENANT_COLUMNS = "id, name, layout, tz, lang, created_at, last_seq, last_hash"


def new_tenant(
    tenant_id: str,
    name: str | None,
    layout: str | None,
    tz: str | None = None,
    lang: str | None = None,
) -> Row:
    """The row of a new tenant, in :data:`NEW_TENANT_COLUMNS` order: its chain at genesis, and
    the zone and language of :mod:`kansa.records` unless given (a tenant made by its first
    event is given none)."""
    return (
        tenant_id,
        name,
        layout,
        tz or records.DEFAULT_TZ,
        lang or records.DEFAULT_LANG,
        to_micros(utcnow()),
        0,
        GENESIS,
    )


def tenant_changes(changes: TenantChanges) -> dict[str, Any]:
    """The tenant columns ``changes`` sets, with the values to store."""
    given = changes.given()
    if changes.retention is not None:
        given["retention"] = retention_text(changes.retention)
    return {name: int(v) if isinstance(v, bool) else v for name, v in given.items()}


def tenant_of(row: Sequence[Any]) -> Tenant:
    """A tenant from a row of :data:`TENANT_COLUMNS`."""
    return Tenant(
        id=row[0],
        name=row[1],
        layout=row[2],
        tz=row[3],
        lang=lang_of(row[4], records.DEFAULT_LANG),
        created_at=from_micros(row[5]),
        last_seq=row[6],
        last_hash=row[7],
        record_searches=bool(row[8]),
        chain_start_seq=int(row[9]),
        chain_start_hash=row[10],
        checkpoint_seq=int(row[11]),
        checkpoint_at=_moment(row[12]),
        retention=retention_of(row[13]),
        legal_hold=row[14],
        legal_hold_since=_moment(row[15]),
        retired_at=_moment(row[16]),
        retired_reason=row[17],
        region=row[18] or None,
    )


def legal_hold_statement(tenant_id: str, reason: str | None, mark: str) -> Bound:
    """Set or lift the tenant's legal hold; ``since`` is kept while a hold goes on."""
    return (
        f"UPDATE tenants SET legal_hold = {mark}, legal_hold_since = CASE WHEN"
        f" CAST({mark} AS TEXT) IS NULL THEN NULL ELSE coalesce(legal_hold_since, {mark}) END"
        f" WHERE id = {mark}",
        (reason, reason, to_micros(utcnow()), tenant_id),
    )


# -- applications and keys -----------------------------------------------------------------

API_KEY_COLUMNS = (
    "id, app, tenant_id, scopes, secret_hash, created_at, revoked_at, expires_at,"
    " last_used_at, previous_secret_hash, previous_until, changed_at"
)


def api_key_statements(
    key_id: str,
    *,
    app: str,
    tenant: str | None,
    scopes: frozenset[str],
    secret_hash: str,
    mark: str,
    expires_at: datetime | None = None,
) -> list[Bound]:
    """Make the application if it is new, then the key."""
    now = to_micros(utcnow())
    return [
        (
            f"INSERT INTO applications (name, created_at) VALUES ({mark}, {mark})"
            " ON CONFLICT (name) DO NOTHING",
            (app, now),
        ),
        (
            "INSERT INTO api_keys (id, app, tenant_id, scopes, secret_hash, created_at,"
            f" expires_at) VALUES ({_marks(mark, 7)})",
            (key_id, app, tenant, ",".join(sorted(scopes)), secret_hash, now, _micros(expires_at)),
        ),
    ]


def api_key_of(row: Sequence[Any]) -> ApiKey:
    """A key from a row of :data:`API_KEY_COLUMNS`."""
    return ApiKey(
        id=row[0],
        app=row[1],
        tenant=row[2],
        scopes=frozenset(s for s in row[3].split(",") if s),
        secret_hash=row[4],
        created_at=from_micros(row[5]),
        revoked=row[6] is not None,
        revoked_at=_moment(row[6]),
        expires_at=_moment(row[7]),
        last_used_at=_moment(row[8]),
        previous_secret_hash=row[9],
        previous_until=_moment(row[10]),
        changed_at=_moment(row[11]) if row[11] else None,
    )


def revoke_key_statement(key_id: str, at: datetime, mark: str) -> Bound:
    """Revoke a key not revoked yet (a second revocation changes nothing)."""
    return (
        f"UPDATE api_keys SET revoked_at = {mark}, changed_at = {mark}"
        f" WHERE id = {mark} AND revoked_at IS NULL",
        (to_micros(at), to_micros(at), key_id),
    )


def rotate_key_statement(
    key_id: str, secret_hash: str, previous_until: datetime, at: datetime, mark: str
) -> Bound:
    """Give a key that is not revoked a new secret; its current one is kept as the previous,
    accepted until ``previous_until``."""
    return (
        f"UPDATE api_keys SET previous_secret_hash = secret_hash, previous_until = {mark},"
        f" secret_hash = {mark}, changed_at = {mark} WHERE id = {mark} AND revoked_at IS NULL",
        (to_micros(previous_until), secret_hash, to_micros(at), key_id),
    )


def touch_key_statements(used: Mapping[str, datetime], mark: str) -> list[Bound]:
    """Keep when each key was last used (never moving it back)."""
    return [
        (
            f"UPDATE api_keys SET last_used_at = {mark} WHERE id = {mark}"
            f" AND (last_used_at IS NULL OR last_used_at < {mark})",
            (to_micros(at), key_id, to_micros(at)),
        )
        for key_id, at in sorted(used.items())
    ]


def key_changes_query(since: datetime | None, mark: str) -> Bound:
    """The keys revoked or rotated after ``since`` (all that ever were, when None)."""
    return (
        f"SELECT id, changed_at FROM api_keys WHERE changed_at > {mark}",
        (to_micros(since) if since is not None else 0,),
    )


# -- accounts and secrets ------------------------------------------------------------------

ACCOUNT_COLUMNS = "tenant_id, login, name, role, password_hash, failures, locked_until, disabled_at"


def account_statement(
    tenant_id: str, login: str, name: str, role: str, password_hash: str, mark: str
) -> Bound:
    """Insert a new account: no failed sign-ins, not locked."""
    return (
        f"INSERT INTO accounts ({ACCOUNT_COLUMNS}, created_at) VALUES ({_marks(mark, 9)})",
        (tenant_id, login, name, role, password_hash, 0, None, None, to_micros(utcnow())),
    )


def signin_statement(
    tenant_id: str, login: str, failures: int, locked_until: datetime | None, mark: str
) -> Bound:
    """Keep the outcome of a sign-in: the failures in a row, and the lock they earned."""
    return (
        f"UPDATE accounts SET failures = {mark}, locked_until = {mark}"
        f" WHERE tenant_id = {mark} AND login = {mark}",
        (failures, to_micros(locked_until) if locked_until else None, tenant_id, login),
    )


def account_of(row: Sequence[Any]) -> Account:
    """An account from a row of :data:`ACCOUNT_COLUMNS`."""
    return Account(
        tenant=row[0],
        login=row[1],
        name=row[2],
        role=role_of(row[3]),
        password_hash=row[4],
        failures=row[5],
        locked_until=_moment(row[6]),
        disabled_at=_moment(row[7]),
    )


def account_change_statement(
    tenant_id: str, login: str, changes: AccountChanges, at: datetime, mark: str
) -> Bound:
    """Change an account as ``changes`` says (at least one thing must be given)."""
    sets: list[str] = []
    values: list[Any] = []
    if changes.disabled is not None:
        sets.append(f"disabled_at = {mark}")
        values.append(to_micros(at) if changes.disabled else None)
    if changes.role is not None:
        sets.append(f"role = {mark}")
        values.append(changes.role)
    if changes.password_hash is not None:
        sets.append(f"password_hash = {mark}")
        values.append(changes.password_hash)
    if changes.unlock or changes.password_hash is not None:
        sets.append("failures = 0, locked_until = NULL")
    assert sets, "an account change changes something"
    return (
        f"UPDATE accounts SET {', '.join(sets)} WHERE tenant_id = {mark} AND login = {mark}",
        (*values, tenant_id, login),
    )


def retire_tenant_statement(tenant_id: str, reason: str, at: datetime, mark: str) -> Bound:
    """Retire a tenant that is not retired yet."""
    return (
        f"UPDATE tenants SET retired_at = {mark}, retired_reason = {mark}"
        f" WHERE id = {mark} AND retired_at IS NULL",
        (to_micros(at), reason, tenant_id),
    )


def session_end_statements(
    tenant_id: str, subject: str, at: datetime, keep_until: datetime | None, mark: str
) -> list[Bound]:
    """End the sessions of ``subject`` begun up to ``at`` (kept until ``keep_until``, for
    ever when None), and forget the ends whose sessions have all expired by ``at``."""
    return [
        (
            "INSERT INTO session_ends (tenant_id, subject, ended_at, expires_at)"
            f" VALUES ({_marks(mark, 4)}) ON CONFLICT (tenant_id, subject)"
            " DO UPDATE SET ended_at = excluded.ended_at, expires_at = excluded.expires_at",
            (tenant_id, subject, to_micros(at), to_micros(keep_until) if keep_until else None),
        ),
        (
            f"DELETE FROM session_ends WHERE tenant_id = {mark} AND expires_at < {mark}",
            (tenant_id, to_micros(at)),
        ),
    ]


def sessions_ended_query(tenant_id: str, subjects: Sequence[str], mark: str) -> Bound:
    """The latest end of any of ``subjects``' sessions in the tenant (one row, maybe NULL)."""
    return (
        f"SELECT max(ended_at) FROM session_ends WHERE tenant_id = {mark}"
        f" AND subject IN ({_marks(mark, len(subjects))})",
        (tenant_id, *subjects),
    )


# -- events --------------------------------------------------------------------------------


def event_row(event: PreparedEvent, stored: StoredLink) -> Row:
    """The row of ``events`` for ``event`` linked into its chain as ``stored``, in
    :data:`~kansa.store.schema.EVENT_ROW` order."""
    return (
        event.tenant_id,
        stored.seq,
        event.id,
        event.client_id,
        to_micros(event.occurred_at),
        to_micros(event.received_at),
        event.app,
        event.product,
        event.action,
        event.category,
        event.history,
        event.result,
        event.level,
        event.actor_id,
        event.actor_login,
        event.actor_name,
        event.ip,
        event.target_id,
        event.target_name,
        event.correlation_id,
        event.trace_id,
        event.message_ja,
        event.message_en,
        stored.body,
        stored.hash,
        stored.prev_hash,
        event.service,
        event.search_text,
    )


def key_row(event: PreparedEvent, stored: StoredLink) -> Row:
    """The row of ``event_keys`` for ``event``, in
    :data:`~kansa.store.schema.EVENT_KEY_ROW` order."""
    return (
        event.tenant_id,
        event.client_id,
        event.id,
        stored.seq,
        stored.hash,
        to_micros(event.occurred_at),
    )


_LINK_NAMES = [path for _, path in EVENT_COLUMNS]
_CONTENT = (*PRUNED_TO_NULL, *PRUNED_TO_EMPTY)
_CONTENT_AT = {column: 6 + n for n, (column, _) in enumerate(EVENT_COLUMNS)}


def orphans_query(tables: Sequence[str], order: str) -> str:
    """The tenant ids that rows of ``tables`` name and no tenant row has, sorted by ``order``
    (an ordering of a column ``id``)."""
    named = " UNION ".join(f"SELECT DISTINCT tenant_id AS id FROM {table}" for table in tables)
    return (
        f"SELECT id FROM ({named}) AS o WHERE NOT EXISTS"
        f" (SELECT 1 FROM tenants t WHERE t.id = o.id) ORDER BY {order}"
    )


KEY_PROBLEM = """SELECT COALESCE(e.seq, k.seq) AS at,
    CASE WHEN k.client_id IS NULL THEN 'missing'
         WHEN e.client_id IS NULL THEN 'without its event' ELSE 'changed' END
FROM (SELECT client_id, id, seq, hash, occurred_at FROM events
      WHERE tenant_id = %s AND seq BETWEEN %s AND %s
      AND client_id IS NOT NULL) AS e
FULL JOIN (SELECT client_id, id, seq, hash, occurred_at FROM event_keys
      WHERE tenant_id = %s AND seq BETWEEN %s AND %s) AS k
  ON k.client_id = e.client_id
WHERE e.client_id IS NULL OR k.client_id IS NULL
   OR (e.id, e.seq, e.hash, e.occurred_at) IS DISTINCT FROM (k.id, k.seq, k.hash, k.occurred_at)
ORDER BY at LIMIT 1"""
"""PostgreSQL: the first disagreement between a run of events and their ``event_keys``."""


def chain_query(tenant_id: str, after_seq: int, upto: int | None, mark: str) -> Bound:
    """The tenant's links after ``after_seq`` (to ``upto``), in seq order, as
    :func:`link_of` reads them."""
    columns = ", ".join(column for column, _ in EVENT_COLUMNS)
    return (
        f"SELECT seq, body, hash, prev_hash, pruned, commitment, {columns} FROM events"
        f" WHERE tenant_id = {mark} AND seq > {mark} AND seq <= {mark} ORDER BY seq",
        (tenant_id, after_seq, upto if upto is not None else 2**63 - 1),
    )


VERIFY_COLUMNS: tuple[tuple[str, str], ...] = (
    *((c, path) for c, path in EVENT_COLUMNS if "." not in path and c != "search_text"),
    *((c, path) for c, path in EVENT_COLUMNS if "." in path),
    ("search_text", "search_text"),
)
""":data:`~kansa.store.schema.EVENT_COLUMNS` in the order :func:`chain_rows_query` reads
them: those copied from one key of the event, those from deeper, then the derived search
text (the order the verifier reads them from an event fastest in)."""
_TIMES = ("occurred_at", "received_at")
_LAST_MICROS = 253_402_300_799_999_999
"""9999-12-31T23:59:59.999999Z: the database writes the times between the epoch and this."""


def chain_rows_query(tenant_id: str, after_seq: int, upto: int | None, dialect: str) -> Bound:
    """The tenant's rows after ``after_seq`` (to ``upto``) in seq order, each ``seq, body,
    hash, prev_hash, pruned, commitment`` and then :data:`VERIFY_COLUMNS` — the two times
    written by the database as :func:`~kansa.timeutil.iso_utc` writes them, or NULL where a
    time is not what kansa stores (not an integer, or outside 1970-9999)."""
    sqlite = dialect == "sqlite"
    columns = []
    for column, _ in VERIFY_COLUMNS:
        columns.append(_written_time(column, sqlite) if column in _TIMES else column)
    mark = "?" if sqlite else "%s"
    return (
        f"SELECT seq, body, hash, prev_hash, pruned, commitment, {', '.join(columns)}"
        f" FROM events WHERE tenant_id = {mark} AND seq > {mark} AND seq <= {mark}"
        " ORDER BY seq",
        (tenant_id, after_seq, upto if upto is not None else 2**63 - 1),
    )


def _written_time(column: str, sqlite: bool) -> str:
    """``column`` (microseconds since the epoch) as :func:`chain_rows_query` writes a time:
    as :func:`~kansa.timeutil.iso_utc` writes it, or NULL where it is not what kansa stores
    (not an integer, or outside 1970-9999)."""
    kind = f"typeof({column}) = 'integer' AND " if sqlite else ""
    return (
        f"CASE WHEN {kind}{column} BETWEEN 0 AND {_LAST_MICROS} THEN {_iso_sql(column, sqlite)} END"
    )


def _iso_sql(column: str, sqlite: bool) -> str:
    """Microseconds since the epoch (0 to :data:`_LAST_MICROS`) as
    :func:`~kansa.timeutil.iso_utc` writes them."""
    if sqlite:
        return (
            f"strftime('%Y-%m-%dT%H:%M:%S', {column} / 1000000, 'unixepoch')"
            f" || printf('.%06dZ', {column} % 1000000)"
        )
    return (  # whole seconds and microseconds apart: every interval product stays exact
        f"to_char(timestamp 'epoch' + ({column} / 1000000) * interval '1 second'"
        f" + mod({column}, 1000000) * interval '1 microsecond',"
        ' \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
    )


KEY_ROWS = (
    "SELECT client_id, id, seq, hash, "
    + _written_time("occurred_at", False)
    + " FROM event_keys WHERE tenant_id = %s AND seq BETWEEN %s AND %s ORDER BY seq"
)
"""PostgreSQL: the key rows of a run of seqs (:meth:`~kansa.store.Store.key_rows`)."""


def link_of(row: Sequence[Any]) -> StoredLink:
    """A stored link, with the columns kept beside its bytes, from a row of
    :func:`chain_query`. A pruned event's link holds its commitment, and as columns only
    those that carried its content (verify finds them empty)."""
    body = row[1].encode() if isinstance(row[1], str) else bytes(row[1])
    if row[4] is not None:
        pruned: Pruning = next((p for p in PRUNINGS if p == row[4]), "retention")
        content = {column: row[_CONTENT_AT[column]] for column in _CONTENT}
        kept = bytes(row[5]) if row[5] is not None else None
        return StoredLink(row[0], body, row[2], row[3], content, pruned, kept)
    columns = dict(zip(_LINK_NAMES, row[6:], strict=True))
    columns["occurred_at"] = iso_utc(from_micros(columns["occurred_at"]))
    columns["received_at"] = iso_utc(from_micros(columns["received_at"]))
    return StoredLink(row[0], body, row[2], row[3], columns)


def _moment(micros: int | None) -> datetime | None:
    return from_micros(micros) if micros is not None else None


def _micros(moment: datetime | None) -> int | None:
    return to_micros(moment) if moment is not None else None


def _marks(mark: str, count: int) -> str:
    return ", ".join([mark] * count)


# -- signing keys ----------------------------------------------------------------------------

SIGNING_KEY_COLUMNS = "key_id, public_key, created_at, retired_at"


def signing_key_of(row: Sequence[Any]) -> SigningKey:
    """A registered key from a row of :data:`SIGNING_KEY_COLUMNS`."""
    return SigningKey(row[0], row[1], from_micros(row[2]), _moment(row[3]))


def add_signing_key_statements(
    key_id: str, public_key: str, at: datetime, mark: str, *, replace: bool
) -> list[Bound]:
    """Register a key as the current one; ``replace``: retire the current one first (a
    rotation), else only if none is registered (the first key) — the insert then fails on
    the key already taken, or is a no-op when another key is current."""
    insert = (
        "INSERT INTO signing_keys (key_id, public_key, created_at) "
        + (
            f"VALUES ({_marks(mark, 3)})"
            if replace
            else f"SELECT {mark}, {mark}, {mark} WHERE NOT EXISTS (SELECT 1 FROM signing_keys)"
        ),
        (key_id, public_key, to_micros(at)),
    )
    retire = (
        f"UPDATE signing_keys SET retired_at = {mark} WHERE retired_at IS NULL",
        (to_micros(at),),
    )
    return [retire, insert] if replace else [insert]
