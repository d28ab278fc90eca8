"""Reports: what the public body receives (SPEC §7) — the monthly activity report (Word and
PowerPoint with charts), the flat pivot-ready exports (XLSX, CSV), the daily morning
summary ("point prod"), generated on demand (API, ``python -m reports``) and on a schedule.

Owns:

- ``models``: the record of each generation (who, when, steps, outcome), its files (kept
  in the database, so any instance can serve them) and the supervisors' comments that go
  into the monthly report (analysis of malfunctions, corrective actions…);
- ``content``: the report's content, in French, built from the indicators (one model for
  every format);
- ``docx``, ``pptx``, ``xlsx`` (and CSV), ``daily``: the renderers;
- ``exports``: the flat rows (one per ticket, call, mail, chat, indicator and month);
- ``services``: generation with progress (log lines and recorded steps), storage;
- ``runtime``: the schedule (point prod every business morning, monthly report on the n-th
  business day), started by ``guichet serve``; one instance generates (a unique claim);
- ``http``: the API and the pages listing and serving reports;
- ``cli``/``__main__``: ``python -m reports monthly|daily|list``.

Reads the indicators through ``indicators.services``; writes only its own tables.
"""
