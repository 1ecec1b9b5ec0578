-- Integrations (protocol 3.15, 3.16): registered slash commands and their invocations, outgoing
-- event subscriptions and their delivery log. Signing secrets are kept in clear: the server
-- must sign with them. app_installation_id is recorded as given (installations are not modelled).

CREATE TABLE slash_commands (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    app_installation_id TEXT,
    command TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    callback_url TEXT NOT NULL,
    signing_secret TEXT NOT NULL,
    bot_user_id TEXT NOT NULL REFERENCES users(id),
    created_by TEXT REFERENCES users(id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
-- One active registration per command name and workspace; revoked rows stay for the audit trail.
CREATE UNIQUE INDEX slash_commands_active
    ON slash_commands(workspace_id, command) WHERE revoked_at IS NULL;
CREATE INDEX slash_commands_ws ON slash_commands(workspace_id, command);

CREATE TABLE slash_command_invocations (
    id TEXT PRIMARY KEY,
    command_id TEXT NOT NULL REFERENCES slash_commands(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    text TEXT NOT NULL DEFAULT '',
    payload_json TEXT NOT NULL DEFAULT '',
    response_status INTEGER NOT NULL DEFAULT 0,
    response_body TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    message_id TEXT,
    created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX slash_command_invocations_command ON slash_command_invocations(command_id, id);
-- The guest post budget counts a user's invocations in a workspace over the last 24 hours.
CREATE INDEX slash_command_invocations_user
    ON slash_command_invocations(workspace_id, user_id, created_at);

CREATE TABLE event_subscriptions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    app_installation_id TEXT,
    event_types_json TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    signing_secret TEXT NOT NULL,
    created_by TEXT REFERENCES users(id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX event_subscriptions_ws ON event_subscriptions(workspace_id, created_at);

-- No foreign key to events: the delivery log outlives event pruning.
CREATE TABLE event_delivery_attempts (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES event_subscriptions(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    request_json TEXT NOT NULL DEFAULT '',
    response_status INTEGER NOT NULL DEFAULT 0,
    response_body TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX event_delivery_attempts_sub ON event_delivery_attempts(subscription_id, id);
