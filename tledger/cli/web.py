"""Web accounts and the web server: ``tledger user ...`` and ``tledger serve``."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from ledger.errors import LedgerError
from tledger.cli import app
from tledger.cli.common import DbOption, FormatOption, OutputFormat, console, emit, open_ledger

user_app = typer.Typer(help="Web accounts: add, list, disable, set-password.",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")


class Role(StrEnum):
    office = "office"
    finance = "finance"
    owner = "owner"


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="The login, e.g. ana.lima@example.com.")],
    role: Annotated[Role, typer.Option("--role", help="office, finance or owner.")],
    owner_name: Annotated[str | None, typer.Option(
        "--owner-name", help="For an owner: the owner as the initiatives name them.")] = None,
    db: DbOption = None,
) -> None:
    """Add a web account. It logs in once `tledger user set-password` gave it a password,
    or at once through single sign-on where the server has it (docs/web.md).

    Example: tledger user add ana.lima@example.com --role owner --owner-name "Ana Lima"
    """
    from ledger.accounts import add_account

    acc = add_account(open_ledger(db), email, role.value, owner_name, now=datetime.now(UTC))
    who = f" for owner {acc.owner_name}" if acc.owner_name else ""
    console.print(f"account {acc.email} added ({acc.role}{who}); set its password with "
                  f"`tledger user set-password {acc.email}` (not needed to sign in by "
                  "single sign-on)", highlight=False)


@user_app.command("list")
def user_list(db: DbOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List the web accounts (never their passwords).

    Example: tledger user list
    """
    import pandas as pd

    from ledger.accounts import list_accounts

    accounts = list_accounts(open_ledger(db))
    frame = pd.DataFrame(
        [(a.email, a.role, a.owner_name or "", "disabled" if a.disabled else "active",
          "set" if a.has_password else "not set") for a in accounts],
        columns=["email", "role", "owner", "status", "password"],
    )
    emit(frame, fmt, title="accounts")


@user_app.command("disable")
def user_disable(email: Annotated[str, typer.Argument(help="The account's email.")],
                 db: DbOption = None) -> None:
    """Disable an account and end its sessions (kept: its submissions name it).

    Example: tledger user disable ana.lima@example.com
    """
    from ledger.accounts import disable_account

    acc = disable_account(open_ledger(db), email, now=datetime.now(UTC))
    console.print(f"account {acc.email} disabled; its sessions are ended", highlight=False)


@user_app.command("set-password")
def user_set_password(email: Annotated[str, typer.Argument(help="The account's email.")],
                      db: DbOption = None) -> None:
    """Set an account's password: prompted twice, never taken from the command line.

    Example: tledger user set-password ana.lima@example.com
    """
    from ledger.accounts import find_account, set_password

    ledger = open_ledger(db)
    with ledger.reading() as conn:
        acc = find_account(conn, email)
    password = typer.prompt(f"new password for {acc.email}", hide_input=True,
                            confirmation_prompt=True)
    set_password(ledger, acc.email, password)
    console.print(f"password of {acc.email} set", highlight=False)


@app.command("serve")
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(
        "--workers", help="Worker processes (more than 1 needs PostgreSQL).")] = 1,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips",
        help="Addresses of a reverse proxy whose X-Forwarded-Proto/For to trust "
        "(e.g. 127.0.0.1). Default: trust none.")] = None,
) -> None:
    """Serve the web app: owners edit their phasing, finance and the office read.

    Example: tledger serve --db ledger.db --port 8000
    """
    import os

    import uvicorn

    from ledger import settings
    from ledger.db import resolve_url

    settings.password_login()  # a bad single sign-on setting is one line here, not in a worker
    settings.oidc()
    ledger = open_ledger(db)  # refuses an unmigrated ledger before the server starts
    url = resolve_url(db)
    if workers > 1 and url.startswith("sqlite"):
        raise LedgerError("--workers above 1 needs a PostgreSQL ledger (SQLite allows one "
                          "writer process): use --workers 1 or a postgresql:// --db")
    ledger.dispose()
    # Worker processes build the app from the environment (uvicorn's factory import).
    os.environ["TLEDGER_DATABASE_URL"] = url
    console.print(f"serving on http://{host}:{port}/ (Ctrl+C stops)", highlight=False)
    uvicorn.run(
        "tledger.web.app:app_from_environment", factory=True, host=host, port=port,
        workers=workers, proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips or "", server_header=False,
        log_level="info",
    )
