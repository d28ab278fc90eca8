"""The HTTP conventions every package's ``http.py`` follows: declared routes with the roles
allowed, request bodies and queries validated by pydantic models, one unit of work
(database session) per request committed only on success, errors rendered with a stable
id and the field at fault, and the OpenAPI document built from the same declarations.

A package exposes ``routes = RouteTable("tag")`` and decorates thin handlers with
``@routes.get(...)``/``post``…; the composition root mounts the tables.
"""

from apikit.routes import ANY_ROLE, CONTAINER, ROUTES, RequestContext, RouteTable, install, openapi_document

__all__ = ["ANY_ROLE", "CONTAINER", "ROUTES", "RequestContext", "RouteTable", "install", "openapi_document"]
