-- Core V1 schema. Timestamps are stored as fixed-width RFC 3339 UTC with 9 fractional digits so
-- that text order is time order; the wire form trims trailing zeros.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'human' CHECK (kind IN ('human', 'bot')),
    owner_user_id TEXT REFERENCES users(id),
    display_name TEXT NOT NULL,
    handle TEXT NOT NULL DEFAULT '',
    avatar_url TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE UNIQUE INDEX users_handle ON users(handle) WHERE handle <> '';
CREATE INDEX users_created ON users(created_at, id);
CREATE INDEX users_email ON users(email) WHERE email <> '';

CREATE TABLE bot_tombstones (
    bot_user_id TEXT PRIMARY KEY REFERENCES users(id),
    former_handle TEXT NOT NULL DEFAULT '',
    deleted_at TEXT NOT NULL,
    deleted_by TEXT
);

CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    provider TEXT NOT NULL,
    provider_subject TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (provider, provider_subject)
);
CREATE INDEX identities_user ON identities(user_id);

CREATE TABLE user_notification_settings (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    pushover_enabled INTEGER NOT NULL DEFAULT 0,
    pushover_user_key TEXT NOT NULL DEFAULT ''
);

CREATE TABLE user_appearance_preferences (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    color_mode TEXT,
    board_theme TEXT,
    message_layout TEXT,
    density TEXT
);

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    route_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    icon_url TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'member', 'guest', 'bot')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members(user_id);

CREATE TABLE workspace_member_moderation (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    timeout_until TEXT,
    blocked_at TEXT,
    moderation_note TEXT NOT NULL DEFAULT '',
    moderation_by TEXT,
    moderation_at TEXT,
    PRIMARY KEY (workspace_id, user_id)
);

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    route_id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    display_title TEXT,
    kind TEXT NOT NULL DEFAULT 'public',
    created_at TEXT NOT NULL,
    archived_at TEXT,
    external_managed INTEGER NOT NULL DEFAULT 0,
    external_ref TEXT,
    external_url TEXT,
    sidebar_section TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (workspace_id, name)
);

CREATE TABLE direct_conversations (
    id TEXT PRIMARY KEY,
    route_id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    member_set_key TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX direct_conversations_pair
    ON direct_conversations(workspace_id, member_set_key) WHERE member_set_key IS NOT NULL;
CREATE INDEX direct_conversations_ws ON direct_conversations(workspace_id, created_at);

CREATE TABLE direct_conversation_members (
    conversation_id TEXT NOT NULL REFERENCES direct_conversations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX direct_conversation_members_user ON direct_conversation_members(user_id);

CREATE TABLE direct_conversation_hidden (
    conversation_id TEXT NOT NULL REFERENCES direct_conversations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    hidden_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

-- Messages keep an integer primary key so the search index (0002) can address rows by a
-- rowid that VACUUM never renumbers.
CREATE TABLE messages (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id TEXT REFERENCES channels(id) ON DELETE CASCADE,
    direct_conversation_id TEXT REFERENCES direct_conversations(id) ON DELETE CASCADE,
    author_id TEXT NOT NULL REFERENCES users(id),
    parent_message_id TEXT,
    thread_root_id TEXT NOT NULL,
    topic_id TEXT,
    channel_seq INTEGER,
    thread_seq INTEGER,
    body TEXT NOT NULL,
    body_format TEXT NOT NULL DEFAULT 'markdown',
    created_at TEXT NOT NULL,
    edited_at TEXT,
    deleted_at TEXT,
    quoted_message_id TEXT,
    quoted_body_snapshot TEXT,
    quoted_author_id TEXT,
    client_nonce TEXT NOT NULL DEFAULT '',
    route_id TEXT,
    kind TEXT NOT NULL DEFAULT 'message',
    turn_id TEXT,
    CHECK ((channel_id IS NULL) <> (direct_conversation_id IS NULL))
);
CREATE UNIQUE INDEX messages_nonce ON messages(author_id, client_nonce) WHERE client_nonce <> '';
CREATE UNIQUE INDEX messages_channel_seq
    ON messages(channel_id, channel_seq) WHERE channel_id IS NOT NULL AND channel_seq IS NOT NULL;
CREATE UNIQUE INDEX messages_dm_seq
    ON messages(direct_conversation_id, channel_seq)
    WHERE direct_conversation_id IS NOT NULL AND channel_seq IS NOT NULL;
CREATE UNIQUE INDEX messages_thread_seq
    ON messages(thread_root_id, thread_seq) WHERE thread_seq IS NOT NULL;
CREATE UNIQUE INDEX messages_route ON messages(workspace_id, route_id) WHERE route_id IS NOT NULL;

CREATE TABLE thread_state (
    root_message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    reply_count INTEGER NOT NULL DEFAULT 0,
    last_reply_at TEXT,
    last_reply_author_ids_json TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE reactions (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    emoji TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    cursor TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id TEXT,
    type TEXT NOT NULL,
    seq INTEGER,
    payload_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    is_private INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_ws_cursor ON events(workspace_id, cursor);

CREATE TABLE event_recipients (
    event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);

CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES users(id),
    client_nonce TEXT NOT NULL DEFAULT '',
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    byte_size INTEGER NOT NULL,
    storage_path TEXT NOT NULL,
    created_at TEXT NOT NULL,
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uploads_nonce ON uploads(owner_id, client_nonce) WHERE client_nonce <> '';
CREATE INDEX uploads_owner ON uploads(workspace_id, owner_id);

CREATE TABLE message_attachments (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (message_id, upload_id)
);
CREATE INDEX message_attachments_upload ON message_attachments(upload_id);

CREATE TABLE channel_reads (
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    last_read_seq INTEGER NOT NULL,
    last_read_at TEXT NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);

CREATE TABLE direct_reads (
    conversation_id TEXT NOT NULL REFERENCES direct_conversations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    last_read_seq INTEGER NOT NULL,
    last_read_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT REFERENCES users(id),
    created_at TEXT NOT NULL,
    accepted_at TEXT
);

CREATE TABLE auth_magic_links (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE bot_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    bot_user_id TEXT NOT NULL REFERENCES users(id),
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    owner_user_id TEXT REFERENCES users(id),
    name TEXT NOT NULL DEFAULT 'default',
    scopes_json TEXT NOT NULL,
    created_by TEXT,
    setup_nonce TEXT,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX bot_tokens_bot ON bot_tokens(bot_user_id, workspace_id);

CREATE TABLE bot_commands (
    id TEXT PRIMARY KEY,
    bot_user_id TEXT NOT NULL REFERENCES users(id),
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    command TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    args_hint TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (bot_user_id, workspace_id, command)
);
