-- Message search (protocol 3.10): an FTS5 index over the bodies of searchable messages.
--
-- Design: an *external-content* FTS5 table whose content is the view below and whose rowid is
-- messages.pk (the stable INTEGER PRIMARY KEY that 0001 reserves for this purpose).
-- * Bodies are not stored twice: the index keeps only tokens; snippet()/highlight() fetch the
--   text back through the view by rowid (a primary-key lookup on messages).
-- * rowid = messages.pk, so no separate message_id -> search rowid mapping table is needed for
--   deletes, and joining a hit back to its message is a rowid lookup.
-- * The view *is* the definition of "searchable": ordinary messages (kind 'message'; agent
--   commentary/tool rows never) that are not deleted. Because the content source matches the
--   index exactly, FTS5's own 'rebuild' and 'integrity-check' commands stay correct.
-- A contentless table could not produce highlights; a plain FTS table would duplicate every body.
--
-- The triggers keep the index equal to the view. External-content deletes must quote the exact
-- text that was indexed, which is always the OLD row's body. Edits change body (and edited_at);
-- deletes set deleted_at and clear body; both go through the UPDATE trigger. Hard deletes (workspace
-- or channel cascades) fire the DELETE trigger.

CREATE VIEW message_search_source AS
    SELECT pk, body FROM messages WHERE kind = 'message' AND deleted_at IS NULL;

CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = 'message_search_source',
    content_rowid = 'pk',
    tokenize = 'porter unicode61'
);

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
WHEN new.kind = 'message' AND new.deleted_at IS NULL
BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.pk, new.body);
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
WHEN old.kind = 'message' AND old.deleted_at IS NULL
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.pk, old.body);
END;

-- One trigger for both halves so the old entry is always removed before the new one is added.
CREATE TRIGGER messages_search_update AFTER UPDATE OF pk, body, kind, deleted_at ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body)
        SELECT 'delete', old.pk, old.body WHERE old.kind = 'message' AND old.deleted_at IS NULL;
    INSERT INTO messages_fts (rowid, body)
        SELECT new.pk, new.body WHERE new.kind = 'message' AND new.deleted_at IS NULL;
END;

-- Index whatever already exists (databases created before this migration).
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
