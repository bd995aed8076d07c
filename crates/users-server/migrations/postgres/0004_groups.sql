-- Groups of users: the document is the group's JSON less its members; the
-- members are rows of `group_members`, which follow the deletion of either
-- side. (`groups` is an SQL keyword, hence `user_groups`.)
CREATE TABLE user_groups (
    seq BIGSERIAL PRIMARY KEY,
    account_id TEXT NOT NULL,
    id uuid NOT NULL UNIQUE,
    name_key TEXT NOT NULL,
    search_text TEXT NOT NULL,
    resource_version BIGINT NOT NULL,
    doc jsonb NOT NULL,
    UNIQUE (account_id, name_key)
);
CREATE INDEX user_groups_account_seq ON user_groups (account_id, seq);
CREATE INDEX user_groups_search_text_trgm ON user_groups USING gin (search_text gin_trgm_ops);

CREATE TABLE group_members (
    group_id uuid NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
-- A user's groups, and the groups a deleted user leaves.
CREATE INDEX group_members_user ON group_members (user_id, group_id);
