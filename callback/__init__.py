"""Callback: the lost-call registry, callback scheduling strictly inside business hours,
virtual hold ("tapez 1 pour être rappelé"), attempts and outcomes, and recovered-call
accounting (T2-IQ04). Not built yet: see the open issue."""
