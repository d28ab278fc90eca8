"""Chat gateway: live chat between the portal's users and the help desk's operators, over
websockets (``ws.py``: ``/chat/ws`` and ``/chat/operator/ws``).

- ``dispatch.py``: the pure chat dispatcher — queues per audience, the ACD's rules (skills
  with levels, longest idle) applied per slot: an operator holds up to
  ``max_concurrent_chats`` conversations (default 3); offers, declines, timeouts, resume
  windows, operators lost and their chats requeued.
- ``hub.py``: this instance's live side — connections, timers, decide → write → notify.
- ``services.py``: what is written: the ticket (channel ``chat``) with the first message,
  every message numbered per conversation and committed before it is acknowledged (group
  commit), the ``chat_*`` journal facts, the transcript added to the ticket, the
  satisfaction survey (tokenised links, ``survey_answered`` {rating}).
- ``models.py``: conversations, messages, survey invitations and answers, and the portal's
  raw form submissions; ``settings.py``: the ``[chat]`` settings (``GUICHET_CHAT_*``),
  including the identity texts of the portal's legal pages.

The public pages that use it are in ``web_pages``.
"""
