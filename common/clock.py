"""The one clock every service stores times from."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, cut to the millisecond MongoDB stores, so a stored time compares equal to its source."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
