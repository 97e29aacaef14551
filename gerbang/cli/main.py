"""The `gerbang` command line."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from starlette.types import ASGIApp

from gerbang.cli import admin, jobs, partner
from gerbang.cli.common import load_cli_settings
from gerbang.config import ConfigurationError, Settings
from gerbang.exceptions import GerbangError
from gerbang.kit.collector import settle_for_serving
from gerbang.pgserver import EmbeddedPostgresError

if TYPE_CHECKING:
    import uvicorn

app = typer.Typer(no_args_is_help=True, add_completion=False, help="gerbang payment gateway")

app.add_typer(admin.app, name="admin")
app.add_typer(partner.app, name="partner")
app.add_typer(jobs.app, name="jobs")

HostOption = Annotated[str | None, typer.Option(help="Listen address (GERBANG_HOST).")]
PortOption = Annotated[int | None, typer.Option(help="Listen port (GERBANG_PORT).")]


ProviderOption = Annotated[
    str | None,
    typer.Option(
        help="The demo's provider: sandbox, hilogate, oy, ing1, gudangvoucher, gidi, piro, genesis or netzme"
        " (GERBANG_DEMO_PROVIDER)."
    ),
]


@app.command()
def run(host: HostOption = None, port: PortOption = None, provider: ProviderOption = None) -> None:
    """Everything in one process tree: embedded PostgreSQL, migrations, API and worker."""
    from gerbang.cli.database import database_url
    from gerbang.cli.supervisor import Supervisor

    settings = load_cli_settings(host=host, port=port, demo_provider=provider)
    with database_url(settings) as url:
        code = Supervisor(settings, url).run()
    raise typer.Exit(code)


@app.command()
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """The HTTP API and web pages only (scale out behind a load balancer)."""
    from gerbang.app import create_app
    from gerbang.cli.database import database_url

    settings = load_cli_settings(host=host, port=port)
    with database_url(settings) as url:
        serve_app(create_app(settings, url), settings)


def server_config(asgi_app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """How uvicorn serves gerbang. `proxy_headers=False`: the client's address is decided once, by
    `AccessMiddleware` from `GERBANG_TRUSTED_PROXIES`; uvicorn's own `X-Forwarded-For` handling (trusting
    127.0.0.1 unless told otherwise) would otherwise rewrite the peer first, so that anyone connecting from the
    host could name the address the allow-lists and rate limits see."""
    import uvicorn

    return uvicorn.Config(
        asgi_app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace.total_seconds()),
    )


def serve_app(asgi_app: ASGIApp, settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT, then stop accepting and let in-flight requests finish within the grace."""
    import uvicorn

    config = server_config(asgi_app, settings)
    # uvicorn re-raises the stop signal after its graceful shutdown, to the handler it found installed.
    # A no-op handler turns a requested, completed shutdown into exit status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server = uvicorn.Server(config)
    settle_for_serving()
    server.run()
    if not server.started:
        raise typer.Exit(1)


@app.command()
def worker() -> None:
    """Background work: deliveries, relays, scheduled jobs."""
    import uvloop

    from gerbang.cli.database import database_url
    from gerbang.worker.main import run_worker

    settings = load_cli_settings()
    with database_url(settings) as url:
        settle_for_serving()
        uvloop.run(run_worker(settings, url))


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest migration."""
    from gerbang.cli.database import database_url
    from gerbang.migration import head_revision, upgrade_to_head

    settings = load_cli_settings()
    with database_url(settings) as url:
        upgrade_to_head(url)
    typer.echo(f"database schema at {head_revision()}")


@app.command()
def reconcile(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute every ledger balance from its entries; exit 1 on any drift."""
    import uvloop

    from gerbang.cli.database import database_url
    from gerbang.cli.reconcile import print_report, run_reconcile

    settings = load_cli_settings()
    with database_url(settings) as url:
        report = uvloop.run(run_reconcile(settings, url))
    print_report(report, as_json=as_json)
    raise typer.Exit(0 if report.clean else 1)


def main() -> None:
    try:
        app()
    except (ConfigurationError, EmbeddedPostgresError) as exc:
        # One line, no traceback: these are the operator's to fix, not ours to debug.
        print(f"gerbang: {exc}", file=sys.stderr)
        sys.exit(2)
    except GerbangError as exc:
        print(f"gerbang: {exc.code}: {exc.detail}", file=sys.stderr)
        sys.exit(1)
