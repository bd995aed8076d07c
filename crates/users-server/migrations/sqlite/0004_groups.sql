-- Groups of users: the document is the group's JSON less its members; the
-- members are rows of `group_members`, which follow the deletion of either
-- side. (`groups` is an SQL keyword, hence `user_groups`.)
CREATE TABLE user_groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    name_key TEXT NOT NULL,
    search_text TEXT NOT NULL,
    resource_version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (account_id, name_key)
);
CREATE INDEX user_groups_account_seq ON user_groups (account_id, seq);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
-- A user's groups, and the groups a deleted user leaves.
CREATE INDEX group_members_user ON group_members (user_id, group_id);
