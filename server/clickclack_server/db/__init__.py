"""SQLite storage: connections, transactions and numbered migrations."""

from clickclack_server.db.sqlite import Database, Tx, apply_migrations

__all__ = ["Database", "Tx", "apply_migrations"]
