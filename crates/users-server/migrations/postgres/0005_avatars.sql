-- Users' uploaded profile images, one per user, removed with the user. The
-- media type is the one read from the image's bytes.
CREATE TABLE avatars (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    media_type TEXT NOT NULL,
    image bytea NOT NULL
);
