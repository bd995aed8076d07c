-- Native types: the document as jsonb, ids as uuid, idempotency records with
-- jsonb responses and timestamptz stamps; a trigram index for the
-- substring search of `q` (LIKE '%...%').
ALTER TABLE users
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN doc TYPE jsonb USING doc::jsonb;

ALTER TABLE idempotency_keys
    ALTER COLUMN response TYPE jsonb USING response::jsonb,
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_search_text_trgm ON users USING gin (search_text gin_trgm_ops);
