-- Auth lookups (protocol 2.3, 3.4): magic-link consume resolves users by identity email, and
-- GET /api/me/bots lists the bots a user owns. Both were full-table scans without these.

CREATE INDEX IF NOT EXISTS identities_email ON identities(email);
CREATE INDEX IF NOT EXISTS users_owner ON users(owner_user_id) WHERE owner_user_id IS NOT NULL;
