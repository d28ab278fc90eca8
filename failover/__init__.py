"""Failover: the primary/backup site pair — health checks, switchover and failback,
fencing, the drill calendar and drill records (T1-IQ01/02, T3-IQ03). Not built yet: see
the open issue."""
