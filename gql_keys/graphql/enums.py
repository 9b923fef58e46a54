"""The domain's enums, each declared once as a GraphQL enum under its API name.

``strawberry.enum`` marks the domain class itself, so types and resolvers annotate
with that class. Import the enums from here: the import is what registers them.
"""

from __future__ import annotations

import strawberry

from gql_keys.broker.events import ActivityKind
from gql_keys.domain_errors import ErrorCode
from gql_keys.scopes import Scope
from gql_keys.services.key_challenges import ChallengePurpose
from gql_keys.services.key_policy import KeyAlgorithm
from gql_keys.services.keys import KeyStatus
from gql_keys.services.quarantine import QuarantineReason
from gql_keys.services.security_events import SecurityEventKind
from gql_keys.services.usage import BucketSize
from gql_keys.services.verification import VerificationCode

strawberry.enum(ActivityKind, name="KeyActivityKind")
strawberry.enum(ErrorCode, name="ErrorCode")
strawberry.enum(Scope, name="Scope", description="WRITE grants READ of the same area.")
strawberry.enum(KeyAlgorithm, name="KeyAlgorithm")
strawberry.enum(KeyStatus, name="ApiKeyStatus")
strawberry.enum(ChallengePurpose, name="ChallengePurpose")
strawberry.enum(
    QuarantineReason,
    name="QuarantineReason",
    description="LEAK_REPORTED: secret scanning or an operator reported the secret; "
    "OWNER: the owner quarantined the key.",
)
strawberry.enum(SecurityEventKind, name="SecurityEventKind")
strawberry.enum(BucketSize, name="UsageBucketSize")
strawberry.enum(VerificationCode, name="VerificationCode")

__all__ = [
    "ActivityKind",
    "BucketSize",
    "ChallengePurpose",
    "ErrorCode",
    "KeyAlgorithm",
    "KeyStatus",
    "QuarantineReason",
    "Scope",
    "SecurityEventKind",
    "VerificationCode",
]
