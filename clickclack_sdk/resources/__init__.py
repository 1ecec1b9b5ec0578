"""Resource groups of :class:`~clickclack_sdk.Client`, one module per API area."""
