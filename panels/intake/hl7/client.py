"""A small blocking MLLP client (benches, tests, a lab's own scripts): one TCP connection, each
message sent as a frame and its ACK frame awaited."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from types import TracebackType

from panels.intake.hl7.charsets import decode_payload
from panels.intake.hl7.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    READ_SIZE,
    MllpDecoder,
    MllpFrame,
    frame,
)

__all__ = ["MllpClient", "send_messages"]


class MllpClient:
    """One TCP connection; ``send(message)`` writes a frame and waits for the answer's frame."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2575,
        *,
        timeout: float = 30.0,
        encoding: str = "utf-8",
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.encoding = encoding
        self._socket = socket.create_connection((host, port), timeout=timeout)
        self._decoder = MllpDecoder(max_message_size)
        self._frames: list[bytes] = []

    def send(self, message: str) -> str:
        self._socket.sendall(frame(message, self.encoding))
        while not self._frames:
            data = self._socket.recv(READ_SIZE)
            if not data:
                raise ConnectionError("the server closed the connection before answering")
            self._frames += [
                event.payload for event in self._decoder.feed(data) if isinstance(event, MllpFrame)
            ]
        return decode_payload(self._frames.pop(0)).text

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def send_messages(
    host: str, port: int, messages: Iterable[str], *, timeout: float = 30.0
) -> list[str]:
    """Send ``messages`` over one connection, each after the previous one's ACK; the ACKs."""
    with MllpClient(host, port, timeout=timeout) as client:
        return [client.send(message) for message in messages]
