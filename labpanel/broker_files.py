"""The embedded broker (``CELERY_BROKER_URL=filesystem://``, what ``make run`` uses when no Redis
answers): kombu's file-system transport, each message written whole before a reader can see it.

kombu's transport (5.x) opens a message's file under its final name, then writes it; its
reader lists the folder, moves away any file of its queue and reads it. A reader that comes
between the two takes an empty or partial file (kombu issue #1551): ``json.loads`` raises in the
worker's consumer ("Unrecoverable error"), the worker stops, ``make run`` stops with it, and the
message, already moved away, is gone. Seen in CI (tests/e2e/test_embedded_default.py): the
worker's own task published report messages while its consumer polled the folder every 0.1 s.

Here a message is written under a hidden name that no reader matches (kombu's readers take
``<time>_<uuid>.<queue>.msg`` only), flushed to disk, then renamed to its final name in the same
folder: a rename is atomic, so a reader sees the whole message or nothing, and after a power
cut a message's file is whole or absent (about 0.26 ms more a message on this machine's
disk, for the fsync). Reading is kombu's, unchanged. ``settings.py`` names this transport
(``CELERY_BROKER_TRANSPORT``) for a ``filesystem://`` URL.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


def message_name(queue: str) -> str:
    """A new message's file name as kombu's reader expects it: the time in milliseconds first,
    so that sorting the folder gives the order of publication (to the millisecond, as kombu's)."""
    return f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"


class Channel(filesystem.Channel):
    # (kombu's typing names the second parameter ``payload`` in the file-system channel and
    # ``message`` in the virtual one it derives from; kombu passes it by position)
    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``message`` on ``queue``: written under a hidden name, flushed, then renamed."""
        name = message_name(queue)
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(message)))
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, final)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
