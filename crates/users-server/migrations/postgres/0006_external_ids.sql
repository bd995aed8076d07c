-- SCIM identity providers find a user by its externalId (`filter=externalId
-- eq "..."`) on every sync: an index on the member the query reads, per
-- account, so the lookup is no scan of the account's users.
CREATE INDEX users_external_id ON users (account_id, (doc->>'externalId'));
CREATE INDEX user_groups_external_id ON user_groups (account_id, (doc->>'externalId'));
