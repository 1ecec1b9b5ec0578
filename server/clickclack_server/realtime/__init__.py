"""Realtime delivery (protocol section 4): the in-process hub, the WebSocket drain loop and the
one visibility filter shared by socket, replay and HTTP pull.

Modules, each on one topic: ``limits`` (constants), ``closes`` (close codes and reasons),
``visibility`` (who may see an event), ``frames`` (events serialised once), ``ring`` (recent
events of a workspace), ``subscriber`` (one socket's mailbox), ``hub`` (fan-out and
revalidation), ``handshake`` (pre-upgrade checks) and ``socket`` (serving one connection).
"""
