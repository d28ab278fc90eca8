"""Synthetic history for demonstrations, dashboards and benchmarks (``guichet demo-data``).

Owns the generator of deterministic, realistic traffic (SPEC §1, §2, §6): demo accounts
(operators ``op01``…, a supervisor, an auditor) with their ACD skills, requesters from a pool
of fictitious French callers, calls with their waits, abandons, losses and renewals, mails
arriving day and night, chats, and the tickets they make with their whole N1/N2/N3 life,
the service's own records (availability probes, openings and closings, switchover drills)
and satisfaction-survey answers, written as the same rows and journal facts the real
services write. Nothing here is used by the running contact center; nothing else depends
on this package.

Modules: ``profile`` (the statistical model: volumes, mixes, waits, rates), ``people`` (the
fictitious requesters), ``timegrid`` (opening windows, arrival samplers, business-time steps
backwards), ``lifecycle`` (a ticket's life as journal facts, mirroring
``ticket_core.services``), ``service`` (probes, openings, drills, mirroring ``failover``),
``satisfaction`` (survey answers, mirroring ``chatgw``), ``generator`` (the month-by-month
orchestration and bulk writes).
"""
