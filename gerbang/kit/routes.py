"""Routing that costs the same for the 200th route as for the first.

FastAPI (>= 0.165) keeps included routers nested and, on every request, walks each router's tree twice (once
to match, once to handle) and re-counts its routes' versions at every level: 0.23 ms to find
`POST /api/v1/payments` and 0.37 ms for a provider's callback, measured with 219 routes. Flattened, it
still tries every route in order, one regular expression each, so the 75th route costs 0.15 ms.

`RoutedApp` keeps one flat list of routes, in include order (what `app.routes` and the OpenAPI document
see), and dispatches through `RouteGroup`s: consecutive routes sharing a literal path prefix, tried only when
the request's path has that prefix. A path reaches the same route as before, because no route outside the
groups it skips could match it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send


def flatten(router: APIRouter, context: Any = None) -> list[APIRoute]:
    """`router`'s routes and those of the routers it includes, each with its full path and what its
    includes gave it (prefix, tags, dependencies, responses, callbacks, deprecation, hiding from the docs).
    `context`: what the includes above `router` give (a `_RouterIncludeContext`, combined as FastAPI does),
    so each route is built once, and only if an include changes it."""
    flat: list[APIRoute] = []
    for route in router.routes:
        inner = getattr(route, "original_router", None)
        if isinstance(inner, APIRouter):
            given = route.include_context  # type: ignore[attr-defined]
            flat += flatten(inner, given if context is None else context.combine(given))
        elif isinstance(route, APIRoute):
            flat.append(route if context is None or _changes_nothing(context) else _built(route, context))
        else:
            raise TypeError(f"only API routes can be flattened, not {type(route).__name__} (mount it on the app)")
    return flat


def _changes_nothing(context: Any) -> bool:
    given = (context.prefix, context.tags, context.dependencies, context.responses, context.callbacks)
    return not any(given) and not context.deprecated and context.include_in_schema


# Routers are module-level, so every app (one per test) includes the same routes the same way; building one
# (its dependencies' signatures, its pydantic fields) is 4 ms, 0.6 s for the gateway's 144 prefixed routes.
# A built route is as shareable between apps as the router's own, which FastAPI shares too. Keyed by the
# route's identity (kept alive in the value, so the id is not reused) and what the include gives it.
_BUILT: dict[tuple[Any, ...], tuple[APIRoute, APIRoute]] = {}


def _built(route: APIRoute, context: Any) -> APIRoute:
    if context.dependencies or context.responses or context.callbacks:
        return _included(route, context)  # not hashable: built each time
    key = (id(route), context.prefix, tuple(context.tags), context.deprecated, context.include_in_schema)
    kept = _BUILT.get(key)
    if kept is None or kept[0] is not route:
        kept = _BUILT[key] = (route, _included(route, context))
    return kept[1]


def _included(route: APIRoute, context: Any) -> APIRoute:
    """`route` as FastAPI's include with `context` (a `_RouterIncludeContext`) presents it."""
    return APIRoute(
        context.prefix + route.path, route.endpoint, response_model=route.response_model,
        status_code=route.status_code, tags=[*context.tags, *route.tags],
        dependencies=[*context.dependencies, *route.dependencies], summary=route.summary,
        description=route.description, response_description=route.response_description,
        responses={**context.responses, **route.responses}, deprecated=route.deprecated or context.deprecated,
        methods=route.methods, operation_id=route.operation_id, response_model_include=route.response_model_include,
        response_model_exclude=route.response_model_exclude, response_model_by_alias=route.response_model_by_alias,
        response_model_exclude_unset=route.response_model_exclude_unset,
        response_model_exclude_defaults=route.response_model_exclude_defaults,
        response_model_exclude_none=route.response_model_exclude_none,
        include_in_schema=route.include_in_schema and context.include_in_schema,
        response_class=route.response_class, name=route.name,
        dependency_overrides_provider=route.dependency_overrides_provider,
        callbacks=[*context.callbacks, *(route.callbacks or [])], openapi_extra=route.openapi_extra,
        generate_unique_id_function=route.generate_unique_id_function, strict_content_type=route.strict_content_type,
        max_body_size=route.max_body_size,
    )  # fmt: skip


def literal_prefix(path: str, segments: int) -> str:
    """The leading literal segments of a route's path (at most `segments`): every path it matches starts
    with them."""
    literal: list[str] = []
    for segment in path.split("/")[1 : segments + 1]:
        if "{" in segment or not segment:
            break
        literal.append(segment)
    return "/" + "/".join(literal) if literal else ""


class RouteGroup(BaseRoute):
    """Consecutive routes whose paths start with `prefix`, tried in order only for a path under it."""

    def __init__(self, prefix: str, routes: Sequence[BaseRoute]) -> None:
        self.prefix = prefix
        self.routes = list(routes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = get_route_path(scope)
        if not (path.startswith(self.prefix) and path[len(self.prefix) : len(self.prefix) + 1] in ("", "/")):
            return Match.NONE, {}
        partial: Scope | None = None
        for route in self.routes:
            match, child_scope = route.matches(scope)  # the APIRoute's child scope names it as "route"
            if match is Match.FULL:
                return match, child_scope
            if match is Match.PARTIAL and partial is None:
                partial = child_scope
        return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: APIRoute = scope["route"]
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)

    def __repr__(self) -> str:
        return f"RouteGroup({self.prefix!r}, {len(self.routes)} routes)"


def grouped(routes: Sequence[APIRoute]) -> list[RouteGroup]:
    """Groups of routes by their first three literal segments, in groups by their first segment."""
    # Three segments tell the partner API's areas apart (`/api/v1/payments`, `/api/v1/withdrawals`).
    by_area = _runs(routes, lambda route: literal_prefix(route.path, 3))
    return _runs(by_area, lambda group: literal_prefix(group.prefix, 1))


def _runs(routes: Sequence[Any], key: Callable[[Any], str]) -> list[RouteGroup]:
    groups: list[RouteGroup] = []
    for route in routes:
        prefix = key(route)
        if groups and groups[-1].prefix == prefix:
            groups[-1].routes.append(route)
        else:
            groups.append(RouteGroup(prefix, [route]))
    return groups


class RoutedApp(FastAPI):
    """A FastAPI app whose included routers are flattened and dispatched by `RouteGroup`s (tried before the
    app's own routes: the docs and mounts). `app.dependency_overrides` does not reach included routes (their
    built copies are shared between apps); the gateway overrides none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._flat: list[APIRoute] = []

    def include_router(self, router: APIRouter, **kwargs: Any) -> None:
        """As FastAPI's (the same arguments), flattened."""
        if router.on_startup or router.on_shutdown:
            raise TypeError("a router's startup and shutdown handlers belong in the app's lifespan")
        wrapper = APIRouter()
        wrapper.include_router(router, **kwargs)
        self._flat += flatten(wrapper)
        own = [route for route in self.router.routes if not isinstance(route, RouteGroup)]
        self.router.routes[:] = [*grouped(self._flat), *own]
        self.openapi_schema = None  # FastAPI's include would have made it re-read the routes

    @property
    def routes(self) -> list[BaseRoute]:
        """Every route with its full path, in the order they are tried (the OpenAPI document reads these)."""
        return list(_ungrouped(self.router.routes))


def _ungrouped(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        if isinstance(route, RouteGroup):
            yield from _ungrouped(route.routes)
        else:
            yield route
