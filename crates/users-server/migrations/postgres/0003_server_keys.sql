-- Keys the server keeps for itself (the key that seals list cursors), made
-- at random on first use and shared by every server on the database.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    key BYTEA NOT NULL
);
