"""The delivery worker of a serving process: started with the app, stopped by a flag
(a send in flight finishes, within the webhook timeout) before the database closes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

from gql_keys.notifications.mail import Mailer, mailer_for
from gql_keys.notifications.templates import render
from gql_keys.runtime import Runtime
from gql_keys.services.deliveries import DeliveryWorker, SendMail


@dataclass(slots=True)
class Running:
    worker: DeliveryWorker
    task: asyncio.Task[None]
    grace_seconds: float


def mail_sender(mailer: Mailer) -> SendMail:
    """The outbox's mail channel: one template per type, sent by ``mailer`` (which raises
    MailError on failure, so the delivery is retried)."""

    async def send(type_: str, data: Mapping[str, object], to: str) -> None:
        await mailer.send(render(type_, data, to))

    return send


def start(rt: Runtime) -> Running | None:
    if not rt.settings.notification_delivery:
        return None
    worker = DeliveryWorker(rt, mail_sender(mailer_for(rt.settings)))
    task = asyncio.get_running_loop().create_task(worker.run(), name="notification-delivery")
    return Running(worker, task, rt.settings.webhook_timeout_seconds + 2.0)


async def stop(running: Running | None) -> None:
    if running is None:
        return
    running.worker.stop()
    done, _ = await asyncio.wait([running.task], timeout=running.grace_seconds)
    if not done:
        running.task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await running.task
