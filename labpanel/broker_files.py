"""The embedded broker (``CELERY_BROKER_URL=filesystem://``, what ``make run`` uses when no Redis
answers): kombu's file-system transport, with its files written whole before anyone reads them.

kombu's transport (5.x) writes two kinds of files without that care:

* **A message.** It opens the message's file under its final name, then writes it; its reader
  lists the folder, moves away any file of its queue and reads it. A reader that comes between
  the two takes an empty or partial file (kombu issue #1551): ``json.loads`` raises in the
  worker's consumer ("Unrecoverable error"), the worker stops, ``make run`` stops with it, and
  the message, already moved away, is gone. Seen in CI (tests/e2e/test_embedded_default.py):
  the worker's own task published report messages while its consumer polled every 0.1 s.
* **An exchange's table of bindings** (``control/<exchange>.exchange``, read by every publish
  to route its message). A first binding creates the file, then locks and writes it: a reader
  or a second writer could meet it empty, and several first bindings at once (the worker, beat
  and the web's processes as they start) interleaved their writes. In 10 rounds of 12 processes
  binding at once, 5 tables were left unreadable (every publish to them failed from then on).

Here a message is written under a hidden name that no reader matches (kombu's readers take
``<time>_<uuid>.<queue>.msg`` only), flushed to disk, then renamed to its final name in the same
folder: a rename is atomic, so a reader sees the whole message or nothing, and after a power
cut a message's file is whole or absent (about 0.26 ms more a message on this machine's
disk, for the fsync). A table is changed under one lock per exchange (a ``.lock`` file beside
it) and written the same way. Reading is kombu's, unchanged. ``settings.py`` names this
transport (``CELERY_BROKER_TRANSPORT``) for a ``filesystem://`` URL.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

Bindings = list[Any]  # an exchange's table: kombu's exchange_queue_t (routing key, pattern, queue)


def json_write_whole(path: Path, value: Any) -> None:
    """``value`` as JSON at ``path``, whole or not at all: written under a hidden name beside it
    (``.<name>.part``, which no reader of this transport matches), flushed to disk, then renamed
    (atomic within a folder). On a failure the hidden file is removed and ``OSError`` raised."""
    partial = path.with_name(f".{path.name}.part")
    try:
        with open(partial, "wb") as file:
            file.write(str_to_bytes(dumps(value)))
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise


def message_name(queue: str) -> str:
    """A new message's file name as kombu's reader expects it: the time in milliseconds first,
    so that sorting the folder gives the order of publication (to the millisecond, as kombu's)."""
    return f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"


class Channel(filesystem.Channel):
    # (kombu's typing names the second parameter ``payload`` in the file-system channel and
    # ``message`` in the virtual one it derives from; kombu passes it by position)
    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``message`` on ``queue``, written whole (``json_write_whole``)."""
        final = Path(self.data_folder_out) / message_name(queue)
        try:
            json_write_whole(final, message)
        except OSError as error:
            raise ChannelError(f"Cannot add file {str(final)!r} to directory") from error

    # An exchange's table of bindings: changed under the exchange's lock, written whole (the
    # module's docstring says what kombu's own did).

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._bindings_change(
            exchange, lambda table: None if binding in table else [binding, *table]
        )

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        # the virtual channel's own deletion, then the table's (not the file-system channel's)
        super(filesystem.Channel, self)._delete(
            queue, exchange, routing_key, pattern, *args, **kwargs
        )
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._bindings_change(
            exchange,
            lambda table: [row for row in table if row != binding] if binding in table else None,
        )

    def _bindings_change(
        self, exchange: str, change: Callable[[Bindings], Bindings | None]
    ) -> None:
        """Apply ``change`` to ``exchange``'s table (``None``: nothing to write) under the
        exchange's lock, and write the new table whole (``json_write_whole``)."""
        # (kombu's checked name: no path outside the control folder; kombu's typing omits it)
        table_path: Path = self._exchange_file(exchange)  # type: ignore[attr-defined]
        self.control_folder.mkdir(exist_ok=True)
        try:
            with open(table_path.with_name(f".{table_path.name}.lock"), "a") as guard:
                fcntl.flock(guard.fileno(), fcntl.LOCK_EX)
                try:
                    table = change(self.get_table(exchange))
                    if table is None:
                        return
                    json_write_whole(table_path, table)
                finally:
                    fcntl.flock(guard.fileno(), fcntl.LOCK_UN)
        except OSError as error:
            raise ChannelError(f"Cannot open {table_path}") from error


class Transport(filesystem.Transport):
    Channel = Channel
