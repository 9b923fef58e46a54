"""Process-wide collaborators built once at start-up and handed to every service."""

from __future__ import annotations

from dataclasses import dataclass

from gql_keys.broker.base import Broker
from gql_keys.broker.hub import Hub
from gql_keys.broker.memory import InProcessBroker
from gql_keys.clock import Clock
from gql_keys.security.masterkey import load_master_keys
from gql_keys.security.passwords import PasswordHasher
from gql_keys.security.secretbox import SecretBox
from gql_keys.security.totp import RecoveryCodeHasher
from gql_keys.settings import Settings


@dataclass(slots=True)
class Runtime:
    settings: Settings
    clock: Clock
    secretbox: SecretBox
    passwords: PasswordHasher
    recovery_codes: RecoveryCodeHasher
    broker: Broker
    hub: Hub

    async def start(self) -> None:
        await self.broker.start(self.hub)

    async def close(self) -> None:
        await self.broker.close()
        self.passwords.close()


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    keys = load_master_keys(settings)
    return Runtime(
        settings=settings,
        clock=clock or Clock(),
        secretbox=SecretBox.from_master_keys(keys[0], keys[1:]),
        passwords=PasswordHasher(
            max_concurrency=settings.password_hash_concurrency,
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
        ),
        recovery_codes=RecoveryCodeHasher(),
        broker=InProcessBroker(),
        hub=Hub(queue_size=settings.ws_subscriber_queue_size),
    )
