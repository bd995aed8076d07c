-- Users' uploaded profile images, one per user, removed with the user. The
-- media type is the one read from the image's bytes.
CREATE TABLE avatars (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    media_type TEXT NOT NULL,
    image BLOB NOT NULL
);
