"""Mail gateway (SPEC R-MAIL, T2-IQ05): every mail becomes a ticket or joins its ticket,
and no accepted mail is ever lost.

Owns: the SMTP intake on aiosmtpd in the application's event loop (``smtp``), the IMAP
poller with UID/UIDVALIDITY bookkeeping and IDLE (``imap``), MIME parsing with
``email``/``policy.default`` and nh3 sanitizing (``parsing``), threading replies into
tickets (``threads``), acknowledgements and operators' replies through the outbound relay
via a transactional outbox (``outbound``), attachment files by content hash
(``storage``), the one-transaction ingestion (``services``), the tables
``mail_messages`` (raw bytes included), ``mail_attachments``, ``mail_imap_mailboxes``,
``mail_imap_uids`` (``models``), the HTTP routes (``http``), the settings
(``GUICHET_MAIL_*``, ``settings``) and the runtime started by ``guichet serve``
(``runtime``). User-facing French texts are in ``texts``.

The 1-business-hour "taken in charge" clock runs from the receipt time (the ticket's
``created_at``; for IMAP the mailbox's INTERNALDATE) and stops at the first operator
action, as the ticket core computes it.
"""
