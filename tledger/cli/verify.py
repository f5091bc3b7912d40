"""History integrity: ``tledger verify`` and ``tledger db grant``."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.wording import plural
from tledger.cli import app
from tledger.cli.common import DbOption, console, err_console, open_ledger
from tledger.cli.setup import db_app

HeadOption = Annotated[
    str | None,
    typer.Option("--head", help="ID:HASH as an earlier `tledger verify` printed it: fail if "
                 "the chain was rewritten since, hashes and all."),
]


@app.command("verify")
def verify_cmd(db: DbOption = None, head: HeadOption = None) -> None:
    """Re-hash every history row and the submissions' hash chain; exit 1 at the first
    broken link (a row or submission changed, deleted, inserted or reordered outside
    tledger). Prints the head (ID:HASH) to keep for a later --head.

    Example: tledger verify --db ledger.db
    """
    from ledger.chain import record, verify

    ledger = open_ledger(db)
    with ledger.reading() as conn:
        result = verify(conn, head=head)
    from sqlalchemy.exc import DBAPIError

    from ledger.errors import LedgerError

    try:
        with ledger.writing() as conn:
            record(conn, result)
    except (LedgerError, DBAPIError) as exc:
        # The verdict stands even when it cannot be recorded (a read-only ledger file).
        err_console.print(f"note: this verification was not recorded: "
                          f"{str(exc).splitlines()[0][:200]}", highlight=False, markup=False,
                          soft_wrap=True)
    if result.problem is not None:
        err_console.print(f"[bold red]broken:[/] {result.problem}", highlight=False,
                          soft_wrap=True, markup=True)
        raise typer.Exit(1)
    head_text = f"{result.head_id}:{result.head_hash}" if result.head_id else "(empty ledger)"
    console.print(f"history intact: {plural(result.submissions, 'submission')}; head {head_text}",
                  highlight=False, soft_wrap=True)


@db_app.command("grant")
def db_grant(role: Annotated[str, typer.Argument(help="An existing PostgreSQL role.")],
             db: DbOption = None) -> None:
    """PostgreSQL: let ROLE read the ledger and append to its history, but not update or
    delete it (a trigger refuses that for every role). Run as the ledger's owner;
    idempotent. Prints the statements it ran.

    Example: tledger db grant tledger_app --db postgresql://owner@host/ledger
    """
    from ledger.chain import grant

    ledger = open_ledger(db)
    with ledger.engine.begin() as conn:
        done = grant(conn, role)
    for statement in done:
        console.print(statement.splitlines()[0] + (" ..." if "\n" in statement else ""),
                      highlight=False, soft_wrap=True, markup=False)
    console.print(f"granted {role}: read, insert history, close versions; no update or delete",
                  highlight=False, markup=False)
