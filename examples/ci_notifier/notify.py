"""Post a CI result to a ClickClack channel through the incoming webhook.

Usage::

    CLICKCLACK_SERVER=https://chat.example.com CLICKCLACK_TOKEN=ccb_... \
        python notify.py --channel chn_... "build #42 passed"

The channel may also come from ``CLICKCLACK_CHANNEL``. Exit status: 0 posted, 2 bad usage,
1 the server refused or could not be reached (the reason is printed on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys

from clickclack_bots import webhook
from clickclack_sdk import ClickClackError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and environment, post once, and report the outcome."""
    parser = argparse.ArgumentParser(description="Post a line to a ClickClack channel.")
    parser.add_argument("text", help="the message to post")
    parser.add_argument("--channel", default=os.environ.get("CLICKCLACK_CHANNEL", ""))
    parser.add_argument("--server", default=os.environ.get("CLICKCLACK_SERVER", ""))
    args = parser.parse_args(argv)
    token = os.environ.get("CLICKCLACK_TOKEN", "")
    missing = [
        name
        for name, value in (
            ("CLICKCLACK_SERVER (or --server)", args.server),
            ("CLICKCLACK_TOKEN", token),
            ("CLICKCLACK_CHANNEL (or --channel)", args.channel),
        )
        if not value
    ]
    if missing:
        print(f"notify: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        created = webhook.post_sync(args.server, args.text, token=token, channel=args.channel)
    except ValueError as error:
        print(f"notify: {error}", file=sys.stderr)
        return 2
    except ClickClackError as error:
        print(f"notify: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(created.message.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
