"""Telephony: everything that speaks to Asterisk.

Owns the ARI client (REST + events websocket, reconnect), the Stasis application (answer,
opening-hours check, the French IVR, music on hold, position announcements, bridges),
call legs and the ``calls`` table (one row per inbound call with its facts), the Asterisk
configuration rendering and process control. It translates Asterisk events into ACD
inputs (``acd/``) and ACD decisions into ARI calls.
"""
