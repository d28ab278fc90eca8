"""Accounts: creating users, checking passwords (argon2), opening and closing sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.exceptions import AuthenticationRequired, InvalidCredentials, UsernameTaken
from accounts.models import ROLES, LoginSession, User
from ticket_core.db import utcnow
from ticket_core.exceptions import InvalidValue
from ticket_core.services import Actor

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of a wrong
# username the same as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")
MIN_PASSWORD_LENGTH = 10
#: The digest realm of softphone accounts (``GUICHET_SIP_REALM``); stored with each account.
DEFAULT_SIP_REALM = "guichet"
SIP_REALM = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidValue(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password")
    return _hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.role)


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    email: str | None = None,
    sip_endpoint: str | None = None,
    sip_secret: str | None = None,
    sip_realm: str = DEFAULT_SIP_REALM,
) -> User:
    """A new account. Operators with a softphone get its digest credential; the secret
    (given, or generated) is on the returned object as ``new_sip_secret``, to be shown once."""
    username = username.strip()
    if not username or len(username) > 120:
        raise InvalidValue("username must be 1 to 120 characters", field="username")
    if role not in ROLES:
        raise InvalidValue(f"role must be one of {', '.join(ROLES)}", field="role")
    if sip_endpoint and not sip_secret:
        sip_secret = secrets.token_urlsafe(12)
    if sip_secret is not None and len(sip_secret) < 8:
        raise InvalidValue("a softphone secret needs at least 8 characters", field="sip_secret")
    if await session.scalar(select(User).where(User.username == username)):
        raise UsernameTaken(f"username {username!r} is taken", field="username")
    user = User(
        username=username, display_name=display_name or username, email=email,
        password_hash=hash_password(password), role=role, active=True,
        sip_endpoint=sip_endpoint, created_at=utcnow(),
    )
    if sip_endpoint and sip_secret:
        set_softphone_secret(user, sip_secret, sip_realm)
    session.add(user)
    await session.flush()
    return user


def softphone_ha1(endpoint: str, realm: str, secret: str) -> str:
    """RFC 2617 HA1 of a softphone account (what a digest registration is checked against)."""
    return hashlib.md5(f"{endpoint}:{realm}:{secret}".encode(), usedforsecurity=False).hexdigest()


def set_softphone_secret(user: User, secret: str, realm: str = DEFAULT_SIP_REALM) -> None:
    if not user.sip_endpoint:
        raise InvalidValue("this account has no softphone endpoint", field="sip_endpoint")
    if len(secret) < 8:
        raise InvalidValue("a softphone secret needs at least 8 characters", field="sip_secret")
    if not SIP_REALM.match(realm):
        raise InvalidValue(f"invalid SIP realm {realm!r}", field="sip_realm")
    user.sip_realm, user.sip_ha1 = realm, softphone_ha1(user.sip_endpoint, realm, secret)
    user.new_sip_secret = secret  # type: ignore[attr-defined] - not stored: shown once


async def authenticate(session: AsyncSession, username: str, password: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise InvalidCredentials("wrong username or password") from None
    if user is None or not user.active:
        raise InvalidCredentials("wrong username or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


async def open_session(session: AsyncSession, user: User, hours: float) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(LoginSession(token_hash=_token_hash(token), user_id=user.id, created_at=now,
                             expires_at=now + timedelta(hours=hours)))
    await session.flush()
    return token


async def user_for_token(session: AsyncSession, token: str) -> User:
    row = await session.scalar(select(LoginSession).where(LoginSession.token_hash == _token_hash(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthenticationRequired("session expired or unknown: log in again")
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthenticationRequired("account disabled")
    return user


async def close_session(session: AsyncSession, token: str) -> None:
    row = await session.scalar(select(LoginSession).where(LoginSession.token_hash == _token_hash(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
