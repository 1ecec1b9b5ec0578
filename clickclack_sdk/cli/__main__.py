"""``python -m clickclack_sdk.cli`` runs the ``clickclack`` command."""

from clickclack_sdk.cli import main

main()
