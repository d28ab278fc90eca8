"""Route declarations, the request wrapper (auth, roles, validation, unit of work) and the
OpenAPI document."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from accounts import services as accounts
from accounts.exceptions import AuthenticationRequired, Forbidden
from accounts.models import ROLES, User
from ticket_core import audit
from ticket_core.services import Actor

log = logging.getLogger("guichet.http")

ANY_ROLE: frozenset[str] = frozenset(ROLES)
SESSION_COOKIE = "guichet_session"

# Application keys: the container (the bootstrap's) and the mounted routes.
CONTAINER: web.AppKey[Any] = web.AppKey("container", object)
ROUTES: web.AppKey[list[Any]] = web.AppKey("routes", list)

Handler = Callable[["RequestContext"], Awaitable[Any]]


@dataclass
class RequestContext:
    """What a handler gets: the request, the authenticated user, the validated body and
    query, and the request's database session (committed by the wrapper on success)."""

    request: web.Request
    session: AsyncSession
    user: User | None
    body: Any = None
    query: Any = None

    @property
    def container(self) -> Any:
        return self.request.app[CONTAINER]

    @property
    def actor(self) -> Actor:
        if self.user is None:
            raise AuthenticationRequired("log in first")
        return accounts.actor_of(self.user)

    def match(self, name: str) -> str:
        return self.request.match_info[name]

    def audit(self, action: str, subject_type: str, subject_id: object, **detail: Any) -> None:
        """Trace an access to personal data in this request's transaction."""
        audit.record(
            self.session,
            user_id=self.user.id if self.user else None,
            username=self.user.username if self.user else "anonymous",
            action=action, subject_type=subject_type, subject_id=subject_id, detail=detail,
            remote_addr=self.request.remote,
        )


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None  # None: anonymous allowed
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    status: int
    tag: str
    response: type[BaseModel] | None = None


@dataclass
class RouteTable:
    tag: str
    routes: list[Route] = field(default_factory=list)

    def _add(self, method: str, path: str, *, roles: Iterable[str] | None, summary: str = "",
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             status: int = 200, response: type[BaseModel] | None = None) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.routes.append(Route(
                method, path, handler, None if roles is None else frozenset(roles),
                summary or (handler.__doc__ or "").strip().splitlines()[0] if (summary or handler.__doc__) else path,
                body, query, status, self.tag, response,
            ))
            return handler
        return decorator

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self._add("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self._add("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self._add("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self._add("DELETE", path, **kw)


def error_response(status: int, error_id: str, message: str, field: str | None = None,
                   details: dict[str, Any] | None = None) -> web.Response:
    payload: dict[str, Any] = {"error": error_id, "message": message}
    if field:
        payload["field"] = field
    if details:
        payload["details"] = details
    return web.json_response(payload, status=status, dumps=dumps)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False)


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


def _wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        container = request.app[CONTAINER]
        try:
            async with container.session_factory() as session:
                user = None
                token = token_of(request)
                if token:
                    user = await accounts.user_for_token(session, token)
                if route.roles is not None:
                    if user is None:
                        raise AuthenticationRequired("log in first")
                    if user.role not in route.roles:
                        raise Forbidden(f"role {user.role} may not {route.method} {route.path}")
                query = None
                if route.query is not None:
                    query = route.query.model_validate(dict(request.query))
                body = None
                if route.body is not None:
                    try:
                        raw = await request.json()
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        return error_response(400, "invalid_json", "the body is not valid JSON")
                    body = route.body.model_validate(raw)
                ctx = RequestContext(request, session, user, body, query)
                result = await route.handler(ctx)
                await session.commit()  # durable before acknowledged
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or None
            return error_response(422, "invalid_field", f"{loc}: {err['msg']}" if loc else err["msg"],
                                  field=loc, details={"errors": [
                                      {"field": ".".join(map(str, e["loc"])), "message": e["msg"]}
                                      for e in exc.errors()]})
        except StaleDataError:
            return error_response(409, "concurrent_update", "changed by someone else meanwhile: reload and retry")
        except IntegrityError as exc:
            log.warning("integrity error on %s %s: %s", route.method, route.path, exc.orig)
            return error_response(409, "conflict", "conflicts with existing data")
        except Exception as exc:  # noqa: BLE001 - domain errors carry their HTTP rendering
            status = getattr(exc, "http_status", None)
            error_id = getattr(exc, "error_id", None)
            if status is None or error_id is None:
                # A bug, not bad input: logged with its traceback, answered in the API's
                # error shape; the transaction was rolled back by the session's context.
                log.exception("unhandled error on %s %s", route.method, route.path)
                return error_response(500, "internal_error", "internal error (logged)")
            return error_response(status, error_id, getattr(exc, "message", str(exc)),
                                  getattr(exc, "field", None), getattr(exc, "details", None))
        if isinstance(result, web.StreamResponse):
            return result
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        return web.json_response(result, status=route.status, dumps=dumps)

    return handle


def install(app: web.Application, tables: Iterable[RouteTable]) -> list[Route]:
    mounted: list[Route] = []
    for table in tables:
        for route in table.routes:
            app.router.add_route(route.method, route.path, _wrap(route))
            mounted.append(route)
    app[ROUTES] = mounted
    return mounted


def openapi_document(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    for route in routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "tags": [route.tag],
            "responses": {
                str(route.status): {"description": "success", **(
                    {"content": {"application/json": {"schema": ref(route.response)}}} if route.response else {})},
                "4XX": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        if route.roles is not None:
            op["security"] = [{"bearer": []}, {"cookie": []}]
            op["x-roles"] = sorted(route.roles)
        else:
            op["security"] = []
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in _path_params(route.path)]
        if route.query is not None:
            for name, f in route.query.model_fields.items():
                params.append({"name": name, "in": "query", "required": f.is_required(),
                               "schema": route.query.model_json_schema()["properties"][name]})
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(route.body)}}}
        paths.setdefault(_openapi_path(route.path), {})[route.method.lower()] = op
    schemas["Error"] = {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string", "description": "stable machine-readable id"},
                       "message": {"type": "string"}, "field": {"type": "string"},
                       "details": {"type": "object"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
    }


def _split_template(path: str) -> list[tuple[str, str | None]]:
    """aiohttp templates ``/x/{name}`` or ``/x/{name:regex}`` (the regex may hold braces,
    e.g. ``\\d{4}``) → [(literal, None) | (name, "param")]."""
    parts: list[tuple[str, str | None]] = []
    i, literal = 0, ""
    while i < len(path):
        if path[i] != "{":
            literal += path[i]
            i += 1
            continue
        if literal:
            parts.append((literal, None))
            literal = ""
        depth, j = 1, i + 1
        while j < len(path) and depth:
            depth += {"{": 1, "}": -1}.get(path[j], 0)
            j += 1
        parts.append((path[i + 1:j - 1].split(":", 1)[0], "param"))
        i = j
    if literal:
        parts.append((literal, None))
    return parts


def _path_params(path: str) -> list[str]:
    return [name for name, kind in _split_template(path) if kind]


def _openapi_path(path: str) -> str:
    return "".join(f"{{{name}}}" if kind else name for name, kind in _split_template(path))
