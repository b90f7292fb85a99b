"""The PostgreSQL store's schema: tables, indexes, forward migrations and privileges.

``init`` runs :data:`SCHEMA_V1`, the key indexes and every migration up to
:data:`SCHEMA_VERSION`; opening an older schema runs the missing :data:`MIGRATIONS` once.
A migration is never edited once released: a change of schema is a new version.
"""

from __future__ import annotations

SCHEMA_VERSION = 4

# Columns of the keys table that a record's fields map onto; the rest of a record is ``extra``.
KEY_COLUMNS = (
    "id", "name", "scope", "project_id", "status", "created_at", "created_by", "expires_at",
    "last_used_at", "key_prefix", "secret_hash", "previous_secret_hash", "revision",
)
TIME_COLUMNS = frozenset({"created_at", "expires_at", "last_used_at"})
_ISO = "YYYY-MM-DD\"T\"HH24:MI:SS\"Z\""


def iso_text(column: str) -> str:
    """SQL that renders a timestamptz column as the store's ISO text (``…T09:30:00Z``)."""
    return f"to_char({column} AT TIME ZONE 'UTC', '{_ISO}')"


KEY_SELECT = ", ".join(
    iso_text(f"k.{c}") if c in TIME_COLUMNS else f"k.{c}" for c in KEY_COLUMNS
) + ", k.extra"

# -- schema ----------------------------------------------------------------------------------

SCHEMA_V1 = """
CREATE TABLE schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by name NOT NULL DEFAULT session_user
);
CREATE TABLE meta (
    id integer PRIMARY KEY CHECK (id = 1),
    group_role name NOT NULL,
    data jsonb NOT NULL
);
CREATE TABLE members (
    login text PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('owner', 'support', 'analytics', 'developer')),
    data jsonb NOT NULL
);
CREATE TABLE projects (
    id text PRIMARY KEY,
    name text NOT NULL,
    data jsonb NOT NULL
);
CREATE TABLE keys (
    seq bigserial UNIQUE,  -- the order keys were stored in: ties of created_at, newest first
    id text PRIMARY KEY,
    name text NOT NULL,
    scope text NOT NULL,
    scope_rank smallint GENERATED ALWAYS AS (
        CASE scope WHEN 'web' THEN 0 WHEN 'mobile' THEN 1 WHEN 'analytics' THEN 2 ELSE 3 END
    ) STORED,
    project_id text,
    status text NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    expires_at timestamptz,
    last_used_at timestamptz,
    last_used_rank timestamptz GENERATED ALWAYS AS (coalesce(last_used_at, '-infinity')) STORED,
    key_prefix text NOT NULL,
    secret_hash text NOT NULL,
    previous_secret_hash text,
    revision integer NOT NULL,
    search_text text NOT NULL,
    extra jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    key_id text,
    detail text NOT NULL DEFAULT ''
);
CREATE INDEX audit_key ON audit (key_id, id) WHERE key_id IS NOT NULL;
CREATE SEQUENCE change_seq;
"""

# Secondary indexes of the keys table: dropped and rebuilt around a bulk seed.
KEY_INDEXES = {
    "keys_secret_hash": "CREATE UNIQUE INDEX keys_secret_hash ON keys (secret_hash)",
    "keys_created": "CREATE INDEX keys_created ON keys (created_at DESC, seq DESC)",
    "keys_creator_created": (
        "CREATE INDEX keys_creator_created ON keys (created_by, created_at DESC, seq DESC)"
    ),
    "keys_scope": "CREATE INDEX keys_scope ON keys (scope_rank, created_at DESC, seq DESC)",
    "keys_last_used": "CREATE INDEX keys_last_used ON keys (last_used_rank DESC, created_at DESC, seq DESC)",
    "keys_project": "CREATE INDEX keys_project ON keys (project_id)",
}
TRIGRAM_INDEX = (
    "keys_search", "CREATE INDEX keys_search ON keys USING gin (search_text gin_trgm_ops)"
)
# Active keys by expiry (the expiring-soon list and its count): made by migration 4.
EXPIRING_INDEX = (
    "keys_expiring",
    "CREATE INDEX IF NOT EXISTS keys_expiring ON keys (expires_at) WHERE status = 'active'",
)
# The version whose migration also tries pg_trgm and its index (where the server allows it:
# an optional step, so a store made before, or where the extension was missing, gains it).
TRIGRAM_VERSION = 4
# Every secondary index of the keys table a bulk load drops and rebuilds (the trigram index
# too, when the store has it).
BULK_REBUILT_INDEXES = {
    **KEY_INDEXES,
    "keys_previous_hash": (
        "CREATE INDEX IF NOT EXISTS keys_previous_hash ON keys (previous_secret_hash) "
        "WHERE previous_secret_hash IS NOT NULL"
    ),
    "keys_retired_hashes": (
        "CREATE INDEX IF NOT EXISTS keys_retired_hashes ON keys "
        "USING gin ((extra -> 'retired_secret_hashes'))"
    ),
    EXPIRING_INDEX[0]: EXPIRING_INDEX[1],
    TRIGRAM_INDEX[0]: TRIGRAM_INDEX[1],
}

# Forward migrations: version → statements that bring version-1 to it. Each runs once, in
# order, in one transaction under the advisory lock.
MIGRATIONS: dict[int, str] = {
    2: """
CREATE TABLE usage (
    key_id text NOT NULL,
    day date NOT NULL,
    valid bigint NOT NULL DEFAULT 0,
    refused bigint NOT NULL DEFAULT 0,
    last_origin text,
    last_ip text,
    PRIMARY KEY (key_id, day)
);
CREATE INDEX keys_previous_hash ON keys (previous_secret_hash) WHERE previous_secret_hash IS NOT NULL;
""",
    # Every secret a rolled key ever had names it (refused as "rolled", never "unknown"):
    # verify looks the hash up in the retired list through this index.
    3: """
CREATE INDEX keys_retired_hashes ON keys USING gin ((extra -> 'retired_secret_hashes'));
""",
    # Expiring-soon lists and counts by an index range, not by reading every key.
    4: EXPIRING_INDEX[1] + ";\n",
}

# What the group role may do, table by table: the audit can be appended to, never rewritten;
# keys are never deleted.
GRANTS = {
    1: (
        ("SELECT", "schema_version"), ("SELECT, UPDATE", "meta"),
        ("SELECT, INSERT, UPDATE, DELETE", "members"), ("SELECT, INSERT, UPDATE, DELETE", "projects"),
        ("SELECT, INSERT, UPDATE", "keys"), ("SELECT, INSERT", "audit"),
        ("USAGE, SELECT", "SEQUENCE keys_seq_seq"), ("USAGE, SELECT", "SEQUENCE audit_id_seq"),
        ("USAGE, SELECT", "SEQUENCE change_seq"),
    ),
    2: (("SELECT, INSERT, UPDATE", "usage"),),
}
