"""Chat gateway: live chat for users and operators over websockets, the chat queue,
concurrent chats per operator, transcripts into tickets. Not built yet: see the open issue."""
