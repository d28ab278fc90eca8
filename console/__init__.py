"""The people's screens: the operator console and the supervisor wallboard, live.

Owns:

- ``http``: the JSON routes (``RouteTable("console")``: the wallboard's figures, an
  operator's work, the context of a call or ticket for the ticket form, the mail queue,
  taking a mail in charge) and, through ``setup(app)``, the French pages (``/console``,
  ``/console/supervision``, ``/console/connexion``), their static files
  (``/static/console/``, served locally: no CDN, no external font) and the live channel
  (``GET /api/v1/console/live``, server-sent events);
- ``wallboard``: today's figures (Europe/Paris day) from the events journal, beside the
  ACD's live snapshot: per queue and per operator, the half-hour chart and the alerts;
- ``work``: what an operator works on — the call just bridged with the requester's previous
  tickets, the chats held, the mail queue with each mail's remaining business time;
- ``live``: the per-instance hub that turns ACD events, bus messages and a periodic
  refresh into pushes to the browsers connected to this instance;
- ``bus``: messages between application instances — PostgreSQL LISTEN/NOTIFY (chunked
  above the 8000-byte payload limit), or in process on SQLite (one instance);
- ``runtime``: the hub as a background service of the main job.

Two instances on one database show the same figures: the instance running the ACD
publishes a compact snapshot of it on every batch of events (and every few seconds), every
instance computes the day's figures from the shared journal and renders the same snapshot.
Pushed payloads carry no personal data; the browser fetches numbers, requesters and mail
subjects through the audited JSON routes.
"""
