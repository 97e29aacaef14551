"""`gerbang partner ...`: partner administration for automation and scripts."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gerbang.cli.common import load_cli_settings

app = typer.Typer(no_args_is_help=True, help="Partner administration.")


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The partner's name.")],
    webhook_url: Annotated[
        str | None, typer.Option(help="Where partner webhooks go (https outside development).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Create a partner with its first API key. Its secrets are printed once and cannot be read again."""
    import uvloop

    from gerbang.cli.database import database_url
    from gerbang.config import Environment
    from gerbang.db import Database
    from gerbang.kit.crypto import KeyRing
    from gerbang.partner.service import create_partner

    settings = load_cli_settings()

    async def run(url: str) -> dict[str, str]:
        database = await Database.connect(url, settings)
        try:
            async with database.transaction() as connection:
                created = await create_partner(
                    connection, KeyRing(settings.secret_keys), name=name, webhook_url=webhook_url,
                    require_https=settings.env is Environment.production,
                )  # fmt: skip
        finally:
            await database.dispose()
        return {
            "partner_id": str(created.partner_id),
            "api_key": created.api_key,
            "signing_secret": created.signing_secret,
            "webhook_secret": created.webhook_secret,
        }

    with database_url(settings) as url:
        result = uvloop.run(run(url))
    if as_json:
        print(json.dumps(result))
        return
    print("Partner created. Store these now: the secrets are shown once.")
    for key, value in result.items():
        print(f"  {key}: {value}")
