"""The SQLite store: plain functions taking a :class:`~clickclack_server.db.Tx`, grouped by area.

Handlers run them through ``server.db.read``/``server.db.write`` and get wire objects or plain
values back; no ``sqlite3`` type crosses into the handlers. A PostgreSQL store would provide the
same functions over its own ``Tx``.
"""
