"""Running bots from a shell: ``python -m clickclack_bots module:bot`` (and ``clickclack bot run``).

:func:`run_from_cli` is the whole behaviour, as a plain function the ``clickclack`` CLI calls;
:func:`main` only parses ``argv`` for ``python -m``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from clickclack_bots._config import (
    Account,
    BotsConfig,
    ConfigError,
    StartFrom,
    callback_options,
    load_config,
    load_target,
    resolve_token,
)
from clickclack_bots._cursor import CursorStoreError
from clickclack_bots._runtime import callbacks_problem, run_accounts_sync

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def run_from_cli(
    target: str | None,
    *,
    server: str | None = None,
    token: str | None = None,
    token_env: str | None = None,
    token_file: str | None = None,
    workspace: str | None = None,
    start: StartFrom | None = None,
    state_dir: str | None = None,
    name: str | None = None,
    config: str | None = None,
    grace: float | None = None,
    log_level: str = "INFO",
    callback_addr: str | None = None,
    callback_path: str | None = None,
    callback_secret_env: str | None = None,
    callback_secret_file: str | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run ``target`` (``module:bot``) on one account, or every account of ``config``, until
    SIGINT/SIGTERM. Returns the process exit code (0 ok, 1 an account failed, 2 bad usage).

    One account: the token comes from ``token``, ``token_env``, ``token_file`` or else
    ``CLICKCLACK_TOKEN``; the server from ``server`` or ``CLICKCLACK_SERVER``. ``start`` must
    be given on an account's first run ("now" or "beginning"). ``callback_addr`` serves the
    bot's slash/delivery callbacks there; the signing secrets come from
    ``callback_secret_env``, ``callback_secret_file`` or else ``CLICKCLACK_CALLBACK_SECRET``.
    """
    env = os.environ if env is None else env
    level = getattr(logging, log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level > logging.DEBUG:  # one INFO line per HTTP request is noise; DEBUG shows them
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        loaded = _accounts(
            target,
            server=server,
            token=token,
            token_env=token_env,
            token_file=token_file,
            workspace=workspace,
            start=start,
            state_dir=state_dir,
            name=name,
            config=config,
            callbacks={
                "callback_addr": callback_addr,
                "callback_path": callback_path,
                "callback_secret_env": callback_secret_env,
                "callback_secret_file": callback_secret_file,
            },
            env=env,
        )
        for account in loaded.accounts:
            problem = callbacks_problem(account.bot, account.callbacks)
            if problem:
                raise ConfigError(f"account {account.label}: {problem}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        failed = run_accounts_sync(loaded.accounts, grace=loaded.grace if grace is None else grace)
    except (ConfigError, CursorStoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FAILURE if failed else EXIT_OK


def _accounts(
    target: str | None,
    *,
    server: str | None,
    token: str | None,
    token_env: str | None,
    token_file: str | None,
    workspace: str | None,
    start: StartFrom | None,
    state_dir: str | None,
    name: str | None,
    config: str | None,
    callbacks: Mapping[str, str | None],
    env: Mapping[str, str],
) -> BotsConfig:
    bot = load_target(target) if target else None
    if config:
        if any(callbacks.values()):
            raise ConfigError("with --config, set the callback options in the config file")
        return load_config(config, default_bot=bot, env=env)
    if bot is None:
        raise ConfigError("give a bot (module:attribute) or --config FILE")
    sources = {"token": token, "token_env": token_env, "token_file": token_file}
    if any(sources.values()):
        resolved = resolve_token(sources, env=env)
    else:
        resolved = env.get("CLICKCLACK_TOKEN", "")
    account = Account.from_values(
        bot,
        server=server,
        token=resolved or None,
        start=start,
        workspace=workspace,
        state_dir=state_dir,
        name=name,
        callbacks=callback_options(callbacks, env=env),
        env=env,
    )
    return BotsConfig(accounts=[account])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clickclack_bots",
        description="Run a ClickClack bot (module:attribute) or the accounts of a config file.",
    )
    parser.add_argument("target", nargs="?", help="the bot, as module:attribute")
    parser.add_argument("--server", help="API base URL (default: $CLICKCLACK_SERVER)")
    tokens = parser.add_mutually_exclusive_group()
    tokens.add_argument("--token", help="the bot token (default: $CLICKCLACK_TOKEN)")
    tokens.add_argument("--token-env", help="read the token from this environment variable")
    tokens.add_argument("--token-file", help="read the token from this file")
    parser.add_argument("--workspace", help="workspace id, slug or name")
    parser.add_argument(
        "--start",
        choices=["now", "beginning"],
        help="where an account's first run starts (required the first time)",
    )
    parser.add_argument("--state-dir", help="directory of the cursor files")
    parser.add_argument("--name", help="account name (cursor file and log prefix)")
    parser.add_argument("--config", help="TOML/JSON file with several accounts")
    parser.add_argument("--grace", type=float, help="seconds to drain handlers on shutdown")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING...")
    parser.add_argument(
        "--callback-addr", help="serve slash/delivery callbacks on HOST:PORT (e.g. 0.0.0.0:8787)"
    )
    parser.add_argument("--callback-path", help="path of the callback URL (default /clickclack)")
    secrets = parser.add_mutually_exclusive_group()
    secrets.add_argument(
        "--callback-secret-env",
        help="environment variable with the signing secrets (default CLICKCLACK_CALLBACK_SECRET)",
    )
    secrets.add_argument("--callback-secret-file", help="file with the signing secrets")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_from_cli(
        args.target,
        server=args.server,
        token=args.token,
        token_env=args.token_env,
        token_file=args.token_file,
        workspace=args.workspace,
        start=args.start,
        state_dir=args.state_dir,
        name=args.name,
        config=args.config,
        grace=args.grace,
        log_level=args.log_level,
        callback_addr=args.callback_addr,
        callback_path=args.callback_path,
        callback_secret_env=args.callback_secret_env,
        callback_secret_file=args.callback_secret_file,
    )
