"""Effective per-agent request caps derived from workspace agent-ops settings."""

from __future__ import annotations

DEFAULT_PUBLIC_RPM_CAP = 60


def public_rpm_cap(rpm_cap_per_agent: int | None) -> int:
    """Embed chat: the workspace cap when it is a positive integer, else 60."""
    return (
        rpm_cap_per_agent if rpm_cap_per_agent and rpm_cap_per_agent > 0 else DEFAULT_PUBLIC_RPM_CAP
    )


def playground_rpm_cap(rpm_cap_per_agent: int | None) -> int | None:
    """Playground: the workspace cap when positive, else unlimited (None)."""
    return rpm_cap_per_agent if rpm_cap_per_agent and rpm_cap_per_agent > 0 else None
