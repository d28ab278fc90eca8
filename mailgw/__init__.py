"""Mail gateway: SMTP intake (aiosmtpd), IMAP polling (aioimaplib), MIME parsing,
threading replies into tickets, acknowledgements and replies out, attachments, and the
1-business-hour "taken in charge" clock (T2-IQ05). Not built yet: see the open issue."""
