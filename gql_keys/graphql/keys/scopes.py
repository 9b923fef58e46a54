"""The ``scopeCatalog`` entries a dashboard renders as checkboxes."""

from __future__ import annotations

import strawberry

from gql_keys.graphql.enums import Scope
from gql_keys.scopes import ScopeDescription


@strawberry.type
class ScopeInfo:
    scope: Scope
    title: str
    description: str
    area: str

    @classmethod
    def from_description(cls, entry: ScopeDescription) -> ScopeInfo:
        return cls(
            scope=entry.scope, title=entry.title, description=entry.description, area=entry.area
        )
