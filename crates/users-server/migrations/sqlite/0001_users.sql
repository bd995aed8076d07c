-- Users: the document is the user's JSON; the columns beside it are what
-- queries filter, order and constrain on.
CREATE TABLE users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    email_key TEXT NOT NULL,
    status TEXT NOT NULL,
    search_text TEXT NOT NULL,
    resource_version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    password_hash TEXT,
    UNIQUE (account_id, email_key)
);
CREATE INDEX users_account_seq ON users (account_id, seq);

-- Idempotency keys of creates, scoped to the caller and the operation.
CREATE TABLE idempotency_keys (
    caller TEXT NOT NULL,
    account_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (caller, account_id, operation, key)
);
