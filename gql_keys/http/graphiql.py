"""Serve GraphiQL's files under ``/graphiql/`` (development only; the page itself is
answered by the GraphQL view at ``GET /graphql``)."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from gql_keys import graphiql
from gql_keys.http.dashboard import MIN_GZIP_BYTES, PageHeaders


def graphiql_routes() -> list[BaseRoute]:
    static = StaticFiles(directory=graphiql.STATIC_DIR)
    return [
        Mount(
            graphiql.PREFIX,
            app=PageHeaders(GZipMiddleware(static, minimum_size=MIN_GZIP_BYTES), graphiql.HEADERS),
            name="graphiql",
        )
    ]
