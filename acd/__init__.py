"""ACD: automatic call distribution.

`acd` owns the queues (one per audience: ``avocat``, ``administration``, ``citoyen``... the
list is data), the operators and their states (logged out, available, ringing, on call,
wrap-up with a timer, paused with a reason), skills per audience with levels, the routing
strategy (oldest waiting call first; highest skill level, then longest idle; overflow to any
logged-in operator after a configurable wait), ring timeouts and auto-pause after missed
rings, and the facts the pickup/abandonment indicators (T2-IQ01..04) are computed from.

`acd.domain` is the pure routing core: no I/O, no asyncio, no clock reads. The telephony
Stasis app feeds it inputs (calls entering a queue, operator answers, hang-ups, ticks) and
carries out its decisions (ring that endpoint, cancel that ring); the service layer writes
its domain events to the events journal.
"""
