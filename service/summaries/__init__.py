"""Summaries as documents: number formatting and sentences (text), charts, the methodology statement and the
output formats (render); `summaries_of` gives the service's `Summaries` with its settings and file renderer."""

from __future__ import annotations

from ingest import limits
from queries.summaries import Summaries, SummarySettings
from service.context import Services


def summary_settings(ctx: Services) -> SummarySettings:
    """The service's settings that affect a summary's figures (all recorded in its manifest); on a store filled
    by `vnmeter demo`, the demo's scale factors and the bands scaled down alike."""
    from service.demo import demo_scale, summary_band_edges

    scale = demo_scale(ctx.store)
    return SummarySettings(ctx.settings.min_cell_users, {
        "timezone": ctx.settings.timezone,
        "max_duration_s": limits.MAX_DURATION_S,
        "max_bytes": limits.MAX_BYTES,
        "future_tolerance_s": int(limits.FUTURE_TOLERANCE.total_seconds()),
        "earliest_ts": limits.EARLIEST_TS.isoformat(),
    }, summary_band_edges(scale), scale)


def summaries_of(ctx: Services) -> Summaries:
    from service.summaries.render import render_files

    return Summaries(ctx.store, ctx.registry, summary_settings(ctx), render_files)
