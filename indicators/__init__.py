"""Indicators: the contract's service levels (SPEC §6) and the operational figures,
computed from what the software recorded — the events journal, the tickets and their
SLA clocks, the calls table — per calendar month (Europe/Paris) on 13 rolling months, each
with the same month a year before.

Owns:

- ``settings``: the configurable definitions (short-abandon threshold, pickup threshold,
  recovery window, callback requested counted as abandoned…), ``GUICHET_INDICATORS_*``;
- ``definitions``: the French wording of every definition, numerator and denominator;
- ``catalogue``: every indicator of SPEC §6 with its target, comparison and penalty flag,
  and the reason it has no data when the product does not hold what it needs;
- ``periods``: calendar months (and days) as UTC boundaries, bucketed in SQL;
- ``compute``: set-based SQL (GROUP BY period in the database) on SQLite and PostgreSQL;
- ``services``: the figures assembled (values, targets, met/missed, same month last year,
  the quality-incentive run of months below target, operational figures, ticket package);
- ``http``: the JSON API and the read-only pages for auditors (dashboard, trends,
  definitions), server-rendered in French with inline SVG charts;
- ``charts``: matplotlib charts (SVG for pages, PNG for documents).

Nothing here writes to the journal or the tickets: indicators are reproducible queries.
``python -m indicators show`` prints them.
"""
