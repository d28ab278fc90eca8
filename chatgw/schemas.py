"""The chat's wire formats: websocket frames (JSON objects with a ``type``) in both
directions, and the HTTP bodies of the chat and survey routes.

User → server: ``start`` {audience, message, name?, email?, id?} | ``resume`` {token,
last_seq} | ``message`` {text, id?} | ``typing`` {on} | ``end``.
Server → user: ``started`` {conversation, token, reference, messages} | ``resumed``
{conversation, reference, state, position, messages} | ``queued`` {position,
operators_available} | ``assigned`` | ``ack`` {id, seq, at} | ``message`` {seq, from, text,
at} | ``typing`` {on} | ``user_status`` | ``ended`` {reason, survey?} | ``error`` {code,
message, id?} | ``closed`` {message, next_opening}.

Operator → server: ``available`` | ``pause`` {reason?} | ``accept`` / ``decline``
{conversation} | ``message`` {conversation, text, id?} | ``typing`` {conversation, on} |
``close`` {conversation}.
Server → operator: ``hello`` {operator, status, capacity, conversations, offer} | ``status``
| ``offer`` {conversation, reference, audience, preview, wait_seconds, expires_in} |
``offer_withdrawn`` | ``conversation`` {conversation, reference, audience, messages, …} |
``message`` | ``ack`` | ``typing`` | ``user_status`` {conversation, connected} | ``requeued``
| ``ended`` {conversation, reason} | ``error``.

Text fields are plain text, never HTML: clients render them as text. Their length is checked
by the handlers (an oversized message closes the connection with code 1009).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Newlines normalised, control characters (NUL…) removed: stored as received
    otherwise, and never interpreted as markup."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


ClientId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ConversationId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


class StartFrame(_Frame):
    type: Literal["start"]
    audience: str = Field(min_length=1, max_length=40)
    message: str
    name: str = Field("", max_length=120)
    email: str | None = Field(None, max_length=320)
    id: ClientId | None = None


class ResumeFrame(_Frame):
    type: Literal["resume"]
    token: str = Field(min_length=10, max_length=100)
    last_seq: int = Field(0, ge=0)


class UserMessageFrame(_Frame):
    type: Literal["message"]
    text: str
    id: ClientId | None = None


class UserTypingFrame(_Frame):
    type: Literal["typing"]
    on: bool


class EndFrame(_Frame):
    type: Literal["end"]


UserFrame = TypeAdapter(Annotated[Union[StartFrame, ResumeFrame, UserMessageFrame, UserTypingFrame, EndFrame],
                                  Field(discriminator="type")])


class AvailableFrame(_Frame):
    type: Literal["available"]


class PauseFrame(_Frame):
    type: Literal["pause"]
    reason: str = Field("pause", max_length=60)


class AcceptFrame(_Frame):
    type: Literal["accept"]
    conversation: ConversationId


class DeclineFrame(_Frame):
    type: Literal["decline"]
    conversation: ConversationId


class OperatorMessageFrame(_Frame):
    type: Literal["message"]
    conversation: ConversationId
    text: str
    id: ClientId | None = None


class OperatorTypingFrame(_Frame):
    type: Literal["typing"]
    conversation: ConversationId
    on: bool


class CloseFrame(_Frame):
    type: Literal["close"]
    conversation: ConversationId


OperatorFrame = TypeAdapter(Annotated[Union[AvailableFrame, PauseFrame, AcceptFrame, DeclineFrame,
                                            OperatorMessageFrame, OperatorTypingFrame, CloseFrame],
                                      Field(discriminator="type")])


# --- HTTP bodies -------------------------------------------------------------------------------


class SurveyAnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Literal["tres_satisfait", "satisfait", "insatisfait"]
    comment: str = Field("", max_length=2000)


class SurveyInvitationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=30)
    source: Literal["mail", "link"] = "mail"
