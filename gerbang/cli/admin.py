"""`gerbang admin ...`: creating admins for automation (the first SUPER_ADMIN, scripted setups)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gerbang.auth.sessions import AdminRole
from gerbang.cli.common import load_cli_settings

app = typer.Typer(no_args_is_help=True, help="Admin users.")


@app.command("create")
def create(
    email: Annotated[str, typer.Option(help="The admin's email address (their login).")],
    role: Annotated[AdminRole, typer.Option(help="The admin's role.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (required).")
    ] = False,
) -> None:
    """Create an admin. The password comes from standard input, never from the command line."""
    import uvloop

    from gerbang.auth.sessions import create_admin
    from gerbang.cli.database import database_url
    from gerbang.db import Database

    if not password_stdin:
        print("gerbang: pass the password on standard input with --password-stdin", file=sys.stderr)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    settings = load_cli_settings()

    async def run(url: str) -> str:
        database = await Database.connect(url, settings)
        try:
            async with database.transaction() as connection:
                return str(await create_admin(connection, email=email, password=password, role=role))
        finally:
            await database.dispose()

    with database_url(settings) as url:
        admin_id = uvloop.run(run(url))
    print(admin_id)
