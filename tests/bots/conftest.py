"""Bot framework tests use the ``clickclack_bots.testing`` plugin's fixtures.

The plugin is registered for installed users through the ``pytest11`` entry point. Here it is
imported explicitly: pytest rejects ``pytest_plugins`` in a conftest below the rootdir when the
whole suite runs, and importing the fixtures works either way (a conftest's fixtures simply
take precedence over the plugin's identical ones once the entry point is installed too).
"""

from clickclack_bots.testing import bot, clickclack_server, running_bot, user

__all__ = ["bot", "clickclack_server", "running_bot", "user"]
