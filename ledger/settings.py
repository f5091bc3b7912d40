"""The ``TLEDGER_*`` environment settings, parsed and checked when they are used.

Each setting is read by a function, at the moment it is needed (never at module import),
so that a bad value reaches the CLI's error boundary and ends in one line naming the
variable, what it holds and what is accepted (a :class:`SettingError`), instead of a
``ValueError`` traceback while Python is still importing tledger.

| variable | kind | default |
|---|---|---|
| ``TLEDGER_DATABASE_URL`` | file path or URL | ``./tledger.db`` |
| ``TLEDGER_USER`` | text | the login name |
| ``TLEDGER_BUSY_TIMEOUT`` | duration | ``30s`` |
| ``TLEDGER_SQLITE_JOURNAL`` | ``wal``, ``delete``, ``truncate``, ``persist`` | ``wal`` |
| ``TLEDGER_IMPORT_MAX_BYTES`` | size | ``1GiB`` |
| ``TLEDGER_IMPORT_MAX_CELLS`` | count | ``30000000`` |
| ``TLEDGER_PREFETCH_MIN_FACTS`` | count | ``100000`` |
| ``TLEDGER_BULK_LOAD_MIN_FACTS`` | count | ``100000`` |
| ``TLEDGER_OIDC_ISSUER`` | https URL | unset: no single sign-on |
| ``TLEDGER_OIDC_CLIENT_ID`` | text | (needed with the issuer) |
| ``TLEDGER_OIDC_CLIENT_SECRET`` / ``..._FILE`` | text / file path | (one needed) |
| ``TLEDGER_OIDC_EMAIL_CLAIM`` | claim name | ``email`` |
| ``TLEDGER_BASE_URL`` | https URL | (needed with the issuer) |
| ``TLEDGER_PASSWORD_LOGIN`` | ``on``, ``off`` | ``on`` |

Durations: a number of seconds (``30``, ``0.5``) or a number with ``ms``, ``s``, ``m`` or
``h`` (``500ms``, ``30s``, ``2m``). Sizes: a number of bytes or a number with ``K``, ``M``,
``G``, ``T`` (powers of 1024, also written ``KiB``, ``MiB``, ``GiB``, ``TiB``) or ``KB``,
``MB``, ``GB``, ``TB`` (powers of 1000). Counts: a whole number (``30000000``,
``30_000_000``). None may be negative, ``nan`` or ``inf``; an empty value means the default.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

from ledger.errors import LedgerError

JOURNAL_MODES = ("wal", "delete", "truncate", "persist")

DEFAULT_BUSY_TIMEOUT_S = 30.0
DEFAULT_IMPORT_MAX_BYTES = 1 << 30
DEFAULT_IMPORT_MAX_CELLS = 30_000_000

_DURATION_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60),
                   "h": Decimal(3600)}
_SIZE_UNITS = {"": 1, "b": 1,
               "k": 1 << 10, "kib": 1 << 10, "kb": 10**3,
               "m": 1 << 20, "mib": 1 << 20, "mb": 10**6,
               "g": 1 << 30, "gib": 1 << 30, "gb": 10**9,
               "t": 1 << 40, "tib": 1 << 40, "tb": 10**12}
_NUMBER_UNIT = re.compile(r"\s*(\d[\d_]*(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)
_SHOWN = 30  # a value is quoted in a message up to this many characters


class SettingError(LedgerError):
    """A ``TLEDGER_*`` environment variable holds a value tledger cannot use."""


def _refuse(name: str, raw: str, expected: str) -> SettingError:
    shown = raw if len(raw) <= _SHOWN else raw[:_SHOWN] + "..."
    return SettingError(f"environment variable {name}={shown!r}: expected {expected}")


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value is not None and value.strip() else None


def parse_duration(name: str, raw: str) -> float:
    """Seconds from a duration such as ``30``, ``30s``, ``500ms`` or ``2m``."""
    expected = ("a duration such as 30, 30s, 500ms or 2m (seconds unless ms, s, m or h "
                "follows; not negative)")
    match = _NUMBER_UNIT.fullmatch(raw)
    unit = match.group(2).lower() if match else ""
    if match is None or (unit and unit not in _DURATION_UNITS):
        raise _refuse(name, raw, expected)
    return float(Decimal(match.group(1).replace("_", "")) * _DURATION_UNITS.get(unit or "s",
                                                                                Decimal(1)))


def parse_size(name: str, raw: str) -> int:
    """Bytes from a size such as ``1073741824``, ``512M``, ``1G`` or ``1GiB``."""
    expected = ("a size in bytes such as 1073741824, 512M, 1G or 1GiB "
                "(K, M, G, T: powers of 1024; KB, MB, GB, TB: of 1000; not negative)")
    match = _NUMBER_UNIT.fullmatch(raw)
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        raise _refuse(name, raw, expected)
    try:
        size = Decimal(match.group(1).replace("_", "")) * _SIZE_UNITS[match.group(2).lower()]
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise _refuse(name, raw, expected) from exc
    if size != size.to_integral_value():
        raise _refuse(name, raw, expected + ", a whole number of bytes")
    return int(size)


def parse_count(name: str, raw: str) -> int:
    """A whole, non-negative number such as ``30000000`` or ``30_000_000``."""
    text = raw.strip()
    if not re.fullmatch(r"\d[\d_]*", text):
        raise _refuse(name, raw, "a whole number such as 30000000 (not negative)")
    return int(text.replace("_", ""))


def database_url() -> str | None:
    """``TLEDGER_DATABASE_URL``, or None when unset."""
    return _raw("TLEDGER_DATABASE_URL")


def busy_timeout_s() -> float:
    """How long a writer waits for another writer before "ledger is busy" (seconds)."""
    return duration_s("TLEDGER_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT_S)


def sqlite_journal() -> str:
    """The SQLite journal mode for new connections (``TLEDGER_SQLITE_JOURNAL``)."""
    raw = _raw("TLEDGER_SQLITE_JOURNAL")
    if raw is None:
        return "wal"
    mode = raw.strip().lower()
    if mode not in JOURNAL_MODES:
        raise _refuse("TLEDGER_SQLITE_JOURNAL", raw, "one of " + ", ".join(JOURNAL_MODES))
    return mode


def import_max_bytes() -> int:
    """Largest total uncompressed size of a workbook's parts (``TLEDGER_IMPORT_MAX_BYTES``)."""
    raw = _raw("TLEDGER_IMPORT_MAX_BYTES")
    return DEFAULT_IMPORT_MAX_BYTES if raw is None else parse_size("TLEDGER_IMPORT_MAX_BYTES",
                                                                   raw)


def import_max_cells() -> int:
    """Largest sheet (rows x columns of its used range) read (``TLEDGER_IMPORT_MAX_CELLS``)."""
    raw = _raw("TLEDGER_IMPORT_MAX_CELLS")
    return DEFAULT_IMPORT_MAX_CELLS if raw is None else parse_count("TLEDGER_IMPORT_MAX_CELLS",
                                                                    raw)


def duration_s(name: str, default: float) -> float:
    """A duration setting in seconds (the forms of :func:`parse_duration`), else ``default``."""
    raw = _raw(name)
    return default if raw is None else parse_duration(name, raw)


def count(name: str, default: int) -> int:
    """A count setting such as ``TLEDGER_BULK_LOAD_MIN_FACTS``, else ``default``."""
    raw = _raw(name)
    return default if raw is None else parse_count(name, raw)


# ------------------------------------------------------------------ single sign-on
#: The claim of the ID token that holds the account's email unless TLEDGER_OIDC_EMAIL_CLAIM
#: names another (e.g. ``upn`` or ``preferred_username`` at some providers).
DEFAULT_EMAIL_CLAIM = "email"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class OidcSettings:
    """Single sign-on with an OpenID Connect provider (all from ``TLEDGER_OIDC_*``)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    email_claim: str
    #: The app's address as browsers reach it; the redirect URI is this plus
    #: ``/login/sso/callback``, registered with the provider.
    base_url: str

    @property
    def redirect_uri(self) -> str:
        return self.base_url + "/login/sso/callback"


def _web_url(name: str, raw: str) -> str:
    """An https URL (http only for this machine), without a trailing slash."""
    expected = ("an https:// URL such as https://login.example.com/tenant (http:// only for "
                "localhost or 127.0.0.1)")
    try:
        parts = urlsplit(raw.strip())
    except ValueError as exc:
        raise _refuse(name, raw, expected) from exc
    secure = parts.scheme == "https" or (parts.scheme == "http"
                                         and parts.hostname in _LOOPBACK)
    if not secure or not parts.hostname or parts.query or parts.fragment:
        raise _refuse(name, raw, expected)
    return raw.strip().rstrip("/")


def oidc() -> OidcSettings | None:
    """The single sign-on settings, or None when ``TLEDGER_OIDC_ISSUER`` is unset (SSO off).

    The client secret comes from ``TLEDGER_OIDC_CLIENT_SECRET`` or, better, from the file
    ``TLEDGER_OIDC_CLIENT_SECRET_FILE`` names (a secrets mount): never from a command line.
    """
    raw_issuer = _raw("TLEDGER_OIDC_ISSUER")
    if raw_issuer is None:
        return None
    issuer = _web_url("TLEDGER_OIDC_ISSUER", raw_issuer)
    needed = "must be set with TLEDGER_OIDC_ISSUER"
    client_id = _raw("TLEDGER_OIDC_CLIENT_ID")
    if client_id is None:
        raise SettingError(f"environment variable TLEDGER_OIDC_CLIENT_ID {needed} (the "
                           "client id the provider gave this app)")
    base = _raw("TLEDGER_BASE_URL")
    if base is None:
        raise SettingError(f"environment variable TLEDGER_BASE_URL {needed} (the app's "
                           "address as browsers reach it, e.g. https://tledger.example.com)")
    secret = _raw("TLEDGER_OIDC_CLIENT_SECRET")
    secret_file = _raw("TLEDGER_OIDC_CLIENT_SECRET_FILE")
    if secret is not None and secret_file is not None:
        raise SettingError("environment variables TLEDGER_OIDC_CLIENT_SECRET and "
                           "TLEDGER_OIDC_CLIENT_SECRET_FILE are both set: expected one")
    if secret_file is not None:
        try:
            secret = Path(secret_file.strip()).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise _refuse("TLEDGER_OIDC_CLIENT_SECRET_FILE", secret_file,
                          f"a readable file holding the client secret ({exc.__class__.__name__})"
                          ) from exc
    if not secret:
        raise SettingError("environment variable TLEDGER_OIDC_CLIENT_SECRET_FILE (or "
                           f"TLEDGER_OIDC_CLIENT_SECRET) {needed}: the client secret")
    claim = (_raw("TLEDGER_OIDC_EMAIL_CLAIM") or DEFAULT_EMAIL_CLAIM).strip()
    if not re.fullmatch(r"[A-Za-z_][\w.:-]{0,99}", claim):
        raise _refuse("TLEDGER_OIDC_EMAIL_CLAIM", claim, "a claim name such as email or upn")
    return OidcSettings(issuer=issuer, client_id=client_id.strip(), client_secret=secret,
                        email_claim=claim, base_url=_web_url("TLEDGER_BASE_URL", base))


def password_login() -> bool:
    """Whether the login page takes passwords (``TLEDGER_PASSWORD_LOGIN``: ``on``, the
    default, or ``off`` for a ledger whose users all sign in through SSO)."""
    raw = _raw("TLEDGER_PASSWORD_LOGIN")
    if raw is None or raw.strip().lower() == "on":
        return True
    if raw.strip().lower() != "off":
        raise _refuse("TLEDGER_PASSWORD_LOGIN", raw, "on or off")
    if oidc() is None:
        raise SettingError("environment variable TLEDGER_PASSWORD_LOGIN=off needs single "
                           "sign-on (TLEDGER_OIDC_ISSUER ...): otherwise nobody could log in")
    return False
