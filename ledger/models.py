"""The ledger's tables, as typed SQLAlchemy models.

History is append-only. Content columns are written once and never updated; the only
column ever written after insert is ``valid_to`` on a versioned row, set exactly once when a
later submission supersedes (or removes) that version. A version is *current* while its
``valid_to`` is :data:`OPEN`; it was valid *as of* submission ``S`` when
``valid_from <= S < valid_to``. See ``docs/design.md``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: ``valid_to`` of a version that nothing has superseded yet (the largest BIGINT).
OPEN = 9_223_372_036_854_775_807

SCENARIOS = ("plan", "forecast", "actual")
METRIC_KINDS = ("benefit", "cost")
SCOPE_KINDS = ("programme", "business_unit", "lever")
PNL_KINDS = ("cost", "income")
INITIATIVE_STATUSES = ("active", "withdrawn")
SUBMISSION_KINDS = ("setup", "reference", "import", "edit", "target", "stage")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC on every backend and returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # SQLAlchemy types ``__table__`` as any FromClause (a model may map a join); every
        # model here maps one Table, and the storage functions take that Table.
        __table__: ClassVar[Table]


class Submission(Base):
    """One write to the ledger: an import, an edit, a target revision, a set-up step."""

    __tablename__ = "submission"
    __table_args__ = (CheckConstraint(_in("kind", SUBMISSION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Increases in commit order: writers hold the ledger's write lock while they write."""
    kind: Mapped[str] = mapped_column(String(16))
    """What sort of write: setup, reference, import, edit, target or stage."""
    user: Mapped[str] = mapped_column(String(200))
    """Who made it (``--user``, else ``TLEDGER_USER``, else the OS user)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """When it was written (UTC); never earlier than the submission before it."""
    source_name: Mapped[str | None] = mapped_column(String(500))
    """The imported file's name, or None for a manual change."""
    source_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    """SHA-256 of the imported file's bytes."""
    content_parts: Mapped[str | None] = mapped_column(String(64), index=True)
    """For an imported workbook: SHA-256 of the names, sizes and CRC-32s of its content
    parts (everything under ``xl/``, not its document properties): the key that finds an
    earlier import of the same content in a byte-different file."""
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of those parts' uncompressed bytes: confirms a ``content_parts`` match."""
    note: Mapped[str] = mapped_column(Text, default="")
    """Why the change was made, in the user's words."""
    details: Mapped[str | None] = mapped_column(Text)
    """Machine-readable extras as JSON (e.g. ``{"forced": true}``)."""
    rows_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 over every history row this submission wrote or closed (``ledger.chain``);
    set once, just before the write commits."""
    content_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 over this row's content and ``rows_hash``."""
    chain_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the previous submission's chain hash and this one's content hash: the
    link that makes a changed, deleted or reordered submission show (``tledger verify``)."""


class ChainVerification(Base):
    """A full verification of the history's hash chain (``tledger verify``): what
    ``tledger checks`` reports on a ledger too large to re-hash on every run."""

    __tablename__ = "chain_verification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    through_submission_id: Mapped[int | None] = mapped_column(Integer)
    """The newest submission the verification covered (None: an empty ledger)."""
    head_hash: Mapped[str | None] = mapped_column(String(64))
    """That submission's chain hash."""
    problem: Mapped[str | None] = mapped_column(Text)
    """The first broken link it found, or None when the chain was intact."""


class LedgerIdentity(Base):
    """Who this ledger is: one row, written when the schema is created (``tledger init``)
    or upgraded to revision 0003, never changed afterwards."""

    __tablename__ = "ledger_identity"

    ledger_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """A random UUID: files exported from this ledger name it, so a file from another
    ledger (a staging copy, a colleague's test ledger) is recognised and refused."""
    stamp_key: Mapped[str] = mapped_column(String(64))
    """A random 256-bit key (hex) that signs what this ledger exports (the owner workbook's
    stamp): only a holder of the ledger can make a stamp it accepts."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the identity was created (UTC)."""


class Programme(Base):
    """The transformation programme this ledger tracks (one per ledger)."""

    __tablename__ = "programme"
    __table_args__ = (
        CheckConstraint("fy_start_month BETWEEN 1 AND 12", name="fy_start_month"),
        CheckConstraint("first_month <= last_month", name="horizon"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    """Reporting currency, ISO 4217 (e.g. AUD)."""
    fy_start_month: Mapped[int] = mapped_column(SmallInteger)
    """Month (1-12) the fiscal year starts in; fiscal years are named by the year they end in."""
    first_month: Mapped[date] = mapped_column(Date)
    """First month of the horizon (first day of that month)."""
    last_month: Mapped[date] = mapped_column(Date)
    """Last month of the horizon (first day of that month)."""
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))


class MonthClose(Base):
    """A month finance closed (``tledger programme close``): from then on the month's
    outturn is its actuals. Append-only: the programme's last closed month is the newest
    row valid at an instant; closing backwards is a new row (forced, with a note)."""

    __tablename__ = "month_close"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    """The last closed month (first day of that month)."""
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)


class GlActual(Base):
    """One general-ledger actual line as imported (``tledger import actuals``,
    docs/reconciliation.md). Append-only: the lines of a month are those of the newest
    submission that has lines in that month (as of any instant); nothing is updated."""

    __tablename__ = "gl_actual"
    __table_args__ = (
        CheckConstraint(_in("pnl_kind", PNL_KINDS), name="pnl_kind"),
        Index("ix_gl_actual_month_sub", "month", "created_submission_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    """The period (first day of the month)."""
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"))
    """The unit the line's cost centre maps to."""
    metric_id: Mapped[int] = mapped_column(ForeignKey("metric.id"))
    """The metric the line's account maps to."""
    pnl_kind: Mapped[str] = mapped_column(String(8))
    """cost (movement = baseline - actual) or income (movement = actual - baseline)."""
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    """The amount in the metric's minor units, signed as in the extract (a cost positive)."""
    cost_centre: Mapped[str] = mapped_column(String(120))
    """The cost centre (or unit) as written in the extract, for drill-down."""
    account: Mapped[str] = mapped_column(String(200))
    """The account (or account group) as written in the extract."""
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)


class Metric(Base):
    """What is counted: a benefit or a cost, in a unit, exact to ``decimals`` places."""

    __tablename__ = "metric"
    __table_args__ = (
        CheckConstraint(_in("kind", METRIC_KINDS), name="kind"),
        CheckConstraint("decimals BETWEEN 0 AND 6", name="decimals"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(40))
    """Unit of the amounts (a currency code, t, Mt, FTE...)."""
    kind: Mapped[str] = mapped_column(String(8))
    """benefit or cost."""
    decimals: Mapped[int] = mapped_column(SmallInteger)
    """Amounts are stored as integers of 10^-decimals of the unit; fixed once created."""
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))


class BusinessUnit(Base):
    """A business unit that initiatives belong to and targets cascade to."""

    __tablename__ = "business_unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))


class Lever(Base):
    """A cost or value lever (procurement, footprint, ...) targets cascade to."""

    __tablename__ = "lever"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))


class StageGate(Base):
    """A maturity gate, L0 idea to L5 realised; ``ordinal`` orders them."""

    __tablename__ = "stage_gate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    ordinal: Mapped[int] = mapped_column(SmallInteger, unique=True)


class StageWeight(Base):
    """A version of a stage gate's risk weight, in basis points (10000 = 100 %)."""

    __tablename__ = "stage_weight"
    __table_args__ = (
        CheckConstraint("weight_bp BETWEEN 0 AND 10000", name="weight_bp"),
        Index("ix_stage_weight_current", "stage_gate_id", "valid_to"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage_gate_id: Mapped[int] = mapped_column(ForeignKey("stage_gate.id"))
    weight_bp: Mapped[int] = mapped_column(Integer)
    """Risk weight in basis points: 5000 means half of the phasing counts."""
    valid_from: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    valid_to: Mapped[int] = mapped_column(BigInteger, default=OPEN)


class Initiative(Base):
    """An initiative's identity; its attributes live in :class:`InitiativeVersion`."""

    __tablename__ = "initiative"
    # Sealing a submission looks up the rows it wrote (ledger.chain).
    __table_args__ = (Index("ix_initiative_created_submission_id", "created_submission_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    """The id as the office writes it, e.g. GR-0042."""
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))


class InitiativeVersion(Base):
    """One version of an initiative's attributes (name, owner, unit, lever, stage, status)."""

    __tablename__ = "initiative_version"
    __table_args__ = (
        CheckConstraint(_in("status", INITIATIVE_STATUSES), name="status"),
        Index("ix_initiative_version_current", "valid_to", "initiative_id"),
        Index("ix_initiative_version_valid_from", "valid_from"),
        Index(
            "uq_initiative_version_one_current",
            "initiative_id",
            unique=True,
            sqlite_where=text(f"valid_to = {OPEN}"),
            postgresql_where=text(f"valid_to = {OPEN}"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id"))
    name: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str] = mapped_column(String(200))
    business_unit_id: Mapped[int | None] = mapped_column(ForeignKey("business_unit.id"))
    lever_id: Mapped[int | None] = mapped_column(ForeignKey("lever.id"))
    stage_gate_id: Mapped[int] = mapped_column(ForeignKey("stage_gate.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="active")
    """active, or withdrawn (a full-snapshot import that no longer lists it)."""
    valid_from: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    valid_to: Mapped[int] = mapped_column(BigInteger, default=OPEN)


class Phasing(Base):
    """A version of one initiative's amount for one metric, scenario and month.

    In-month impact, not cumulative. A cell emptied by a later submission ends its version
    (``valid_to`` set) with no successor.
    """

    __tablename__ = "phasing"
    __table_args__ = (
        CheckConstraint(_in("scenario", SCENARIOS), name="scenario"),
        # Covers the reconciliation's scans: SQLite answers them from the index alone.
        Index(
            "ix_phasing_scan",
            "metric_id", "scenario", "valid_to", "valid_from", "month", "initiative_id",
            "amount_minor",
        ),
        Index("ix_phasing_initiative", "initiative_id", "metric_id", "scenario", "month"),
        Index("ix_phasing_valid_from", "valid_from"),
        Index(
            "uq_phasing_one_current",
            "initiative_id", "metric_id", "scenario", "month",
            unique=True,
            sqlite_where=text(f"valid_to = {OPEN}"),
            postgresql_where=text(f"valid_to = {OPEN}"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id"))
    metric_id: Mapped[int] = mapped_column(ForeignKey("metric.id"))
    scenario: Mapped[str] = mapped_column(String(8))
    """plan, forecast or actual."""
    month: Mapped[date] = mapped_column(Date)
    """First day of the month the amount lands in."""
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    """The amount in 10^-decimals of the metric's unit (cents for money)."""
    valid_from: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    valid_to: Mapped[int] = mapped_column(BigInteger, default=OPEN)


class Target(Base):
    """A version of a top-down target amount for one metric, scope and month."""

    __tablename__ = "target"
    __table_args__ = (
        CheckConstraint(_in("scope_kind", SCOPE_KINDS), name="scope_kind"),
        Index(
            "ix_target_scan", "metric_id", "valid_to", "valid_from", "scope_kind", "scope_code",
            "month", "amount_minor",
        ),
        Index("ix_target_valid_from", "valid_from"),
        Index(
            "uq_target_one_current",
            "metric_id", "scope_kind", "scope_code", "month",
            unique=True,
            sqlite_where=text(f"valid_to = {OPEN}"),
            postgresql_where=text(f"valid_to = {OPEN}"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metric.id"))
    scope_kind: Mapped[str] = mapped_column(String(16))
    """programme, business_unit or lever."""
    scope_code: Mapped[str] = mapped_column(String(40))
    """The business unit's or lever's code; empty for the programme."""
    month: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    valid_from: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    valid_to: Mapped[int] = mapped_column(BigInteger, default=OPEN)


class ReviewedPair(Base):
    """Two initiatives the office reviewed as *not* counting the same saving twice
    (``tledger checks review-pair``): ``possible_double_count`` no longer reports them.
    Append-only, written once per pair; the pair is stored in id order."""

    __tablename__ = "reviewed_pair"
    __table_args__ = (
        CheckConstraint("first_initiative_id < second_initiative_id", name="ordered"),
        Index("uq_reviewed_pair_pair", "first_initiative_id", "second_initiative_id",
              unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id"))
    """The pair's initiative with the lower id."""
    second_initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id"))
    """The pair's initiative with the higher id."""
    note: Mapped[str] = mapped_column(Text)
    """Why the pair is not a double count, in the reviewer's words."""
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)


# ---------------------------------------------------------------- baselines (0007)
BASELINE_SERIES = ("baseline", "actual")


class Baseline(Base):
    """A version of a metric's baseline (the "do nothing" trajectory) or recorded actual,
    for one scope and month (``ledger.baselines``, docs/baselines.md).

    ``amount_minor`` is the fixed part; a flexed baseline adds ``rate_micro`` (the rate in
    the metric's unit per one unit of ``driver_metric_id``, times 10^6) times the driver's
    actual of the same scope and month.
    """

    __tablename__ = "baseline"
    __table_args__ = (
        CheckConstraint(_in("scope_kind", SCOPE_KINDS), name="scope_kind"),
        CheckConstraint(_in("series", BASELINE_SERIES), name="series"),
        CheckConstraint("(driver_metric_id IS NULL) = (rate_micro IS NULL)", name="driver"),
        Index(
            "ix_baseline_scan", "metric_id", "valid_to", "valid_from", "series", "scope_kind",
            "scope_code", "month",
        ),
        Index("ix_baseline_valid_from", "valid_from"),
        Index(
            "uq_baseline_one_current",
            "metric_id", "series", "scope_kind", "scope_code", "month",
            unique=True,
            sqlite_where=text(f"valid_to = {OPEN}"),
            postgresql_where=text(f"valid_to = {OPEN}"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metric.id"))
    series: Mapped[str] = mapped_column(String(8))
    """baseline (the do-nothing trajectory) or actual (what finance recorded)."""
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_code: Mapped[str] = mapped_column(String(40))
    month: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    """The fixed part, in the metric's minor units."""
    driver_metric_id: Mapped[int | None] = mapped_column(ForeignKey("metric.id"))
    """The metric whose actual flexes this baseline, or None."""
    rate_micro: Mapped[int | None] = mapped_column(BigInteger)
    """Metric units per driver unit, times 10^6 (12.5 AUD/t is 12500000), or None."""
    valid_from: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    valid_to: Mapped[int] = mapped_column(BigInteger, default=OPEN)


class MetricRatio(Base):
    """A ratio metric (a unit cost): its value is a numerator metric over a denominator
    metric, each its baseline adjusted by the initiatives' bottom-up (``ledger.ratio``).
    Written once with the metric."""

    __tablename__ = "metric_ratio"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metric.id"), unique=True)
    numerator_metric_id: Mapped[int] = mapped_column(ForeignKey("metric.id"))
    denominator_metric_id: Mapped[int] = mapped_column(ForeignKey("metric.id"))
    created_submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))


# ---------------------------------------------------------------- web accounts (0005)
ROLES = ("office", "finance", "owner")


class Account(Base):
    """Someone who may log in to ``tledger serve``. Unlike ledger data, an account is
    mutable administration (its password and ``disabled`` change in place); what an account
    writes to the ledger is on record through its submissions' ``user`` (the email)."""

    __tablename__ = "account"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    """Lower-cased; the login name and the author of the account's submissions."""
    role: Mapped[str] = mapped_column(String(10))
    """office, finance or owner."""
    owner_name: Mapped[str | None] = mapped_column(String(200))
    """For an owner: the initiatives' owner as the ledger writes it (e.g. Ana Lima)."""
    password_hash: Mapped[str | None] = mapped_column(String(200))
    """Argon2id hash; None until ``tledger user set-password`` (no login possible)."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A logged-in browser. The cookie holds a signed random token; only its SHA-256 is
    stored, so a leaked database does not hand out live sessions."""

    __tablename__ = "web_session"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Set by log out (or by disabling the account): the session is over for good."""


class LoginAttempt(Base):
    """Failed logins, counted per account and per address to throttle guessing."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_email_at", "email", "at"),
                      Index("ix_login_attempt_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebSetting(Base):
    """Settings of the web face: ``secret_key`` (generated by the migration, signs cookies
    unless ``TLEDGER_SECRET_KEY`` is set) and ``owners_edit_actual`` (``yes`` lets owners
    edit the actual scenario; absent by default)."""

    __tablename__ = "web_setting"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
