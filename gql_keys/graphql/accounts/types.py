"""The ``User`` type."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_keys.global_ids import encode_global_id
from gql_keys.graphql.node import Node
from gql_keys.models import User as UserRow


@strawberry.type(name="User")
class UserType(Node):
    email: str
    two_factor_enabled: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: UserRow) -> UserType:
        return cls(
            id=strawberry.ID(encode_global_id("User", row.id)),
            email=row.email,
            two_factor_enabled=row.two_factor_enabled,
            created_at=row.created_at,
        )
