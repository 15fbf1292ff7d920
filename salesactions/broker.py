"""The embedded broker of ``make run`` (no server): kombu's filesystem transport, with each
message written atomically.

kombu's own transport creates the message file under its final name and then writes it, so a
worker polling the folder can take the file while it is still empty and die decoding it
("Expecting value: line 1 column 1", celery/kombu#1551; it stopped ``make run`` within two
minutes here). This one writes the message under a name the reader skips and renames it when
complete; a rename within one folder is atomic. :func:`register` makes it what a
``filesystem://`` broker URL names, in every process that loads the Celery app.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# The reader takes files named "<anything>.<queue>.msg"; "….msg.part" is not one of them.
PART = ".part"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue``: written in full, then renamed into place."""
        filename = os.path.join(
            self.data_folder_out, f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg")
        try:
            with open(filename + PART, "wb") as part:
                part.write(str_to_bytes(dumps(payload)))
            os.replace(filename + PART, filename)
        except OSError as exc:
            raise ChannelError(
                f"Cannot add file {filename!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    """Let ``filesystem://`` broker URLs use this transport. By the URL's scheme rather than
    Celery's ``broker_transport`` setting, which would override any other URL as well."""
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
