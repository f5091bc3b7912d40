"""Web accounts, their sessions and login throttling (tables of migration 0005).

An account is who may log in to ``tledger serve``: an email, a role (office, finance or
owner), for an owner the owner name the ledger's initiatives carry, and an Argon2id hash of
a password set by ``tledger user set-password``. What an account writes to the ledger is
recorded with its email as the submission's ``user``.

Sessions live here, not in the cookie: the cookie carries a random token (signed by the
web face), the table keeps its SHA-256, so logging out or disabling an account ends a
session on every worker at once.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from ledger.api import Ledger

if TYPE_CHECKING:
    from argon2 import PasswordHasher
from ledger.errors import LedgerError, NotFound
from ledger.models import ROLES

#: A failed login counts against its account and its address for this long.
THROTTLE_WINDOW = timedelta(minutes=15)
#: Failed logins within the window after which an account refuses further attempts.
MAX_FAILURES_PER_ACCOUNT = 5
#: ... and after which an address (guessing across many accounts) is refused.
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD_LENGTH = 10

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    owner_name: str | None
    disabled: bool
    has_password: bool


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


def normal_email(email: str) -> str:
    """``email`` trimmed and lower-cased.

    Raises:
        LedgerError: it does not look like an email address.
    """
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 200:
        raise LedgerError(f"account {email[:60]!r}: expected an email address such as "
                          "ana.lima@example.com")
    return value


_SELECT = "SELECT id, email, role, owner_name, disabled, password_hash FROM account"


def _account(row) -> Account:  # type: ignore[no-untyped-def]
    return Account(int(row[0]), row[1], row[2], row[3], bool(row[4]), row[5] is not None)


def add_account(ledger: Ledger, email: str, role: str, owner_name: str | None, *,
                now: datetime) -> Account:
    """Create an account without a password (it cannot log in until one is set).

    Raises:
        LedgerError: bad email or role, an owner without an owner name, a duplicate.
    """
    address = normal_email(email)
    if role not in ROLES:
        raise LedgerError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    name = (owner_name or "").strip() or None
    if role == "owner" and name is None:
        raise LedgerError(f"{address}: an owner account needs --owner-name, the owner as "
                          "the ledger's initiatives name them (e.g. \"Ana Lima\")")
    if role != "owner" and name is not None:
        raise LedgerError(f"{address}: --owner-name is for owner accounts only")
    with ledger.writing() as conn:
        if conn.execute(text("SELECT 1 FROM account WHERE email = :e"),
                        {"e": address}).first():
            raise LedgerError(f"account {address} already exists")
        try:
            conn.execute(
                text("INSERT INTO account (email, role, owner_name, password_hash, disabled, "
                     "created_at) VALUES (:e, :r, :o, NULL, :d, :t)"),
                {"e": address, "r": role, "o": name, "d": False, "t": now},
            )
        except IntegrityError as exc:  # pragma: no cover - a concurrent add won
            raise LedgerError(f"account {address} already exists") from exc
        return find_account(conn, address)


def find_account(conn: Connection, email: str) -> Account:
    """Raises NotFound when there is no such account."""
    row = conn.execute(text(f"{_SELECT} WHERE email = :e"),
                       {"e": email.strip().lower()}).first()
    if row is None:
        raise NotFound(f"no account {email.strip()[:60]!r} (see `tledger user list`)")
    return _account(row)


def account_by_id(conn: Connection, account_id: int) -> Account | None:
    row = conn.execute(text(f"{_SELECT} WHERE id = :i"), {"i": int(account_id)}).first()
    return None if row is None else _account(row)


def list_accounts(ledger: Ledger) -> list[Account]:
    with ledger.reading() as conn:
        return [_account(r) for r in conn.execute(text(f"{_SELECT} ORDER BY email")).all()]


def set_password(ledger: Ledger, email: str, password: str) -> None:
    """Store an Argon2id hash of ``password`` (the password itself is never stored).

    Raises:
        LedgerError: the password is shorter than :data:`MIN_PASSWORD_LENGTH`.
        NotFound: no such account.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise LedgerError(f"password too short: expected at least {MIN_PASSWORD_LENGTH} "
                          "characters")
    hashed = _hasher().hash(password)
    with ledger.writing() as conn:
        acc = find_account(conn, email)
        conn.execute(text("UPDATE account SET password_hash = :h WHERE id = :i"),
                     {"h": hashed, "i": acc.id})


def disable_account(ledger: Ledger, email: str, *, now: datetime) -> Account:
    """Disable an account and end its open sessions (it is kept: its submissions name it).

    Raises:
        NotFound: no such account.
    """
    with ledger.writing() as conn:
        acc = find_account(conn, email)
        conn.execute(text("UPDATE account SET disabled = :d WHERE id = :i"),
                     {"d": True, "i": acc.id})
        conn.execute(text("UPDATE web_session SET ended_at = :t WHERE account_id = :i "
                          "AND ended_at IS NULL"), {"t": now, "i": acc.id})
        return find_account(conn, email)


class LoginThrottled(LedgerError):
    """Too many failed logins for an account or from an address."""


def _failures(conn: Connection, column: str, value: str, since: datetime) -> int:
    return int(conn.execute(
        # column: "email" or "address", chosen by this module; the values are bound.
        text(f"SELECT COUNT(*) FROM login_attempt WHERE {column} = :v AND at > :s"),  # noqa: S608
        {"v": value, "s": since},
    ).scalar_one())


def authenticate(ledger: Ledger, email: str, password: str, address: str, *,
                 now: datetime) -> Account | None:
    """The account when ``email`` and ``password`` match an enabled account, else None
    (the same answer whether the account is unknown, disabled or the password wrong, so a
    guesser learns nothing). A failure is recorded against the email and the address.

    Raises:
        LoginThrottled: too many recent failures for this account or from this address;
            the password is not even checked.
    """
    key = email.strip().lower()[:200]
    addr = address[:64]
    since = now - THROTTLE_WINDOW
    minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
    with ledger.reading() as conn:
        if _failures(conn, "email", key, since) >= MAX_FAILURES_PER_ACCOUNT:
            raise LoginThrottled(f"too many failed logins for {key[:60]}: try again in "
                                 f"{minutes} minutes, or ask the office to reset the password")
        if _failures(conn, "address", addr, since) >= MAX_FAILURES_PER_ADDRESS:
            raise LoginThrottled(f"too many failed logins from this address: try again in "
                                 f"{minutes} minutes")
        row = conn.execute(text(f"{_SELECT} WHERE email = :e"), {"e": key}).first()
    ok = False
    if row is not None and row[5] is not None and not row[4]:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            ok = _hasher().verify(row[5], password)
        except (VerificationError, InvalidHashError):
            ok = False
    if ok:
        assert row is not None  # noqa: S101  (narrows the type)
        return _account(row)
    with ledger.writing() as conn:
        conn.execute(text("INSERT INTO login_attempt (email, address, at) VALUES (:e, :a, :t)"),
                     {"e": key, "a": addr, "t": now})
        # Failures older than the window no longer count: dropped so the table stays small.
        conn.execute(text("DELETE FROM login_attempt WHERE at < :old"),
                     {"old": now - 4 * THROTTLE_WINDOW})
    return None


# ---------------------------------------------------------------- sessions
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str
    account: Account
    csrf_token: str
    created_at: datetime


def start_session(ledger: Ledger, account: Account, *, now: datetime) -> Session:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with ledger.writing() as conn:
        # Ended sessions, and any idle for a month, can never resume: dropped here.
        conn.execute(text("DELETE FROM web_session WHERE ended_at < :ended "
                          "OR last_seen_at < :idle"),
                     {"ended": now - timedelta(days=1), "idle": now - timedelta(days=31)})
        conn.execute(
            text("INSERT INTO web_session (token_sha256, account_id, csrf_token, created_at, "
                 "last_seen_at, ended_at) VALUES (:h, :a, :c, :t, :t, NULL)"),
            {"h": _digest(token), "a": account.id, "c": csrf, "t": now},
        )
    return Session(token, account, csrf, now)


def resume_session(ledger: Ledger, token: str, *, now: datetime, idle: timedelta,
                   lifetime: timedelta) -> Session | None:
    """The live session of ``token``, its last-seen time moved to ``now``; None when it
    was never started, was ended, idled longer than ``idle``, is older than ``lifetime``,
    or its account is disabled."""
    digest = _digest(token)
    with ledger.reading() as conn:
        row = conn.execute(
            text("SELECT account_id, csrf_token, created_at, last_seen_at, ended_at "
                 "FROM web_session WHERE token_sha256 = :h"), {"h": digest}).first()
        if row is None or row[4] is not None:
            return None
        account = account_by_id(conn, int(row[0]))
    created, seen = _aware(row[2]), _aware(row[3])
    if account is None or account.disabled or now - seen > idle or now - created > lifetime:
        return None
    # Touching at most once a minute keeps page views from taking the write lock each time.
    if now - seen > timedelta(minutes=1):
        with ledger.writing() as conn:
            conn.execute(text("UPDATE web_session SET last_seen_at = :t WHERE token_sha256 = :h "
                              "AND ended_at IS NULL"), {"t": now, "h": digest})
    return Session(token, account, str(row[1]), created)


def _aware(value: object) -> datetime:
    from ledger.vocabulary import stored_utc

    return stored_utc(value)


def end_session(ledger: Ledger, token: str, *, now: datetime) -> None:
    with ledger.writing() as conn:
        conn.execute(text("UPDATE web_session SET ended_at = :t WHERE token_sha256 = :h "
                          "AND ended_at IS NULL"), {"t": now, "h": _digest(token)})


# ---------------------------------------------------------------- settings
def secret_key(ledger: Ledger) -> str:
    """``TLEDGER_SECRET_KEY`` if set, else the key generated with the ledger's accounts
    tables. Never printed or shown."""
    env = os.environ.get("TLEDGER_SECRET_KEY")
    if env:
        return env
    return setting(ledger, "secret_key") or ""


def setting(ledger: Ledger, name: str, conn: Connection | None = None) -> str | None:
    """A ``web_setting`` value (None: not set), read in ``conn``'s snapshot when given."""
    with ledger.snapshot(conn) as c:
        row = c.execute(text("SELECT value FROM web_setting WHERE name = :n"),
                        {"n": name}).first()
    return None if row is None else str(row[0])
