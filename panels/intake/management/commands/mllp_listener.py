"""``manage.py mllp_listener --port 2575 --user interface.engine``: HL7 v2 over MLLP.

A real TCP server with MLLP framing. Each message is processed exactly as ``POST /api/v1/hl7/``
processes it, with the integrator account named by ``--user`` (MLLP carries no credentials, so
the listener binds to 127.0.0.1 unless told otherwise: put it behind the hospital's interface
network or a TLS tunnel). The ACK is written back only after the message's data is committed;
a client that disconnects before reading it can resend the message safely (same MSH-10 → the
stored ACK, nothing stored twice). SIGTERM (``docker stop``) stops it gracefully: it stops
listening, answers the messages it is processing, closes every connection and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from labpanel.accounts import access
from labpanel.exceptions import DomainError
from panels.intake.hl7.mllp import DEFAULT_IDLE_TIMEOUT, serve_mllp
from panels.intake.hl7.services import hl7_receive_any, internal_error_ack
from panels.models import Transport

logger = logging.getLogger(__name__)


# A connection used this recently without an error is not checked again (the check is a
# round trip, a SELECT 1, as much as a third of a message's statements).
RECENTLY_USED = 1.0  # seconds


class _ConnectionUse:
    """When the listener last finished a message (``time.monotonic``), on its one thread."""

    finished_at: float | None = None


def _connection_check_due(now: float) -> bool:
    """Whether to check the database connection before a message: after a quiet second or
    more (the server may have closed it meanwhile), or when the last use raised a database
    error; never between back-to-back messages on a connection that works."""
    last = _ConnectionUse.finished_at
    return last is None or now - last >= RECENTLY_USED or connection.errors_occurred


def _receive(message: str, user: Any) -> str:
    checked = _connection_check_due(time.monotonic())
    if checked:
        close_old_connections()  # a long-lived listener must survive database restarts
    access.staff_forget(user)  # each message is checked against the membership as it is now
    try:
        try:
            return hl7_receive_any(raw=message, user=user, transport=Transport.MLLP).ack
        except (OperationalError, InterfaceError):
            if checked:
                raise
            # Unchecked, the connection had died (a database restart within the second): what
            # the check would have found. Nothing was stored (or, had the COMMIT gone through,
            # the message is now answered with its stored ACK): the message once more.
            close_old_connections()
            if connection.connection is not None:
                raise  # the connection works: the error was the message's own
            access.staff_forget(user)
            return hl7_receive_any(raw=message, user=user, transport=Transport.MLLP).ack
    except Exception:
        # Nothing was committed (the transaction rolled back): say so with AE, never AA.
        logger.exception("mllp.internal_error")
        return internal_error_ack(message)
    finally:
        _ConnectionUse.finished_at = time.monotonic()


class Command(BaseCommand):
    help = "Listen for HL7 v2 ORU^R01 messages over MLLP and answer each with its ACK."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2575)
        parser.add_argument(
            "--user",
            required=True,
            help="Username of the integrator account the messages are stored under",
        )
        parser.add_argument(
            "--idle-timeout",
            type=float,
            default=DEFAULT_IDLE_TIMEOUT,
            help="Close a connection silent this many seconds (default %(default)s; 0: never)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            access.hl7_receiver_lab(user)
        except DomainError as error:
            raise CommandError(error.message) from error
        receive = sync_to_async(_receive, thread_sensitive=True)

        async def handler(message: str) -> str:
            return await receive(message, user)

        async def main() -> None:
            ready, stop = asyncio.Event(), asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            server = asyncio.create_task(
                serve_mllp(
                    handler,
                    options["host"],
                    options["port"],
                    ready=ready,
                    idle_timeout=options["idle_timeout"],
                    stop=stop,
                )
            )
            await ready.wait()
            self.stdout.write(
                f"MLLP listener on {options['host']}:{options['port']} "
                f"(messages stored as {user.get_username()}); Ctrl-C stops it"
            )
            await server
            self.stdout.write("MLLP listener stopped (SIGTERM)")

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            self.stdout.write("MLLP listener stopped")
