"""Failover: the primary/backup site pair (SPEC §8, T1-IQ01/02, T3-IQ03).

Owns: the health checks of both sites (``health.py``, ``sip.py``), the switchover rules
with hysteresis (``rules.py``, pure), the fencing lease that keeps one site's ACD active
at a time (``fencing.py``), the switchover itself — standby promotion of PostgreSQL, the
other site's calls in progress closed as lost with callbacks, operators carried over,
``site_switched_over`` with the measured time — manual switchover, failback and drills
(``services.py``), the drills calendar and records (``models.py``), the indicators
T1-IQ01/02 and T3-IQ03 (``indicators.py``), the HTTP resources (``http.py``) and the
site's controller in the main job (``runtime.py``, when ``GUICHET_FAILOVER=1``).

Public surface: ``runtime.start(container)``, ``http.routes``, ``indicators``,
``settings.FailoverSettings`` (``GUICHET_FAILOVER_*``). The controller of a running site
is ``container.extras["failover"]`` (``.active``: does this site's ACD decide now).
"""
