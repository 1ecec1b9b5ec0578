"""A slash-command bot: ``/deploy``, ``/rollback`` and ``/versions``.

ClickClack calls the bot's callback endpoint (signed) for each invocation and waits at most
3 s for the answer:

- ``/deploy api --env production`` answers at once, in the channel, then posts the outcome
  when the (simulated) pipeline is done;
- ``/rollback api`` just does its slow work and returns the result: the framework answers
  "Working on /rollback…" for it when the budget runs out, and posts the result later;
- ``/versions`` answers privately (only the invoker sees it; nothing is posted).
"""

import enum
import os

import trio

from clickclack_bots import Bot, SlashContext, UsageError

bot = Bot("deployer")

STEP_SECONDS = float(os.environ.get("DEPLOY_STEP_SECONDS", "1.5"))
"""How long each simulated pipeline step takes (your real deploy goes there)."""


class Env(enum.Enum):
    staging = "staging"
    production = "production"


versions: dict[tuple[str, Env], int] = {}
"""The live version of each (service, environment)."""


@bot.slash("/deploy")
async def deploy(ctx: SlashContext, service: str, *, env: Env = Env.staging) -> None:
    """Deploy a service: /deploy <service> [--env staging|production]."""
    await ctx.respond(f"Deploying {service} to {env.value}…")
    for _step in ("build", "test", "roll out"):
        await trio.sleep(STEP_SECONDS)
    version = versions.get((service, env), 0) + 1
    versions[(service, env)] = version
    await ctx.respond(f"{service} v{version} is live on {env.value}.")


@bot.slash("/rollback")
async def rollback(ctx: SlashContext, service: str, *, env: Env = Env.staging) -> str:
    """Roll a service back one version: /rollback <service> [--env ...]."""
    current = versions.get((service, env), 0)
    if current < 2:
        raise UsageError(f"{service} has no earlier version on {env.value}")
    await trio.sleep(2 * STEP_SECONDS)
    versions[(service, env)] = current - 1
    return f"{service} rolled back to v{current - 1} on {env.value}."


@bot.slash("/versions")
async def list_versions(ctx: SlashContext) -> None:
    """What runs where (shown only to you)."""
    lines = [f"{svc} {env.value}: v{v}" for (svc, env), v in sorted(versions.items(), key=str)]
    await ctx.respond("\n".join(lines) or "nothing deployed yet", ephemeral=True)
