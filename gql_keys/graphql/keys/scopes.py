"""The ``Scope`` enum and the ``scopeCatalog`` entries a dashboard renders as checkboxes."""

from __future__ import annotations

import strawberry

from gql_keys.scopes import Scope, ScopeDescription

ScopeEnum = strawberry.enum(Scope, name="Scope", description="WRITE grants READ of the same area.")


@strawberry.type
class ScopeInfo:
    scope: ScopeEnum  # type: ignore[valid-type]
    title: str
    description: str
    area: str

    @classmethod
    def from_description(cls, entry: ScopeDescription) -> ScopeInfo:
        return cls(
            scope=entry.scope, title=entry.title, description=entry.description, area=entry.area
        )
