"""kombu's filesystem transport (the development broker in var/broker) with atomic message files.

kombu writes a message straight into its final ``*.msg`` name, so a worker polling the folder can move
and read it before the bytes are written: it reads an empty message and the worker dies with
"Unrecoverable error: JSONDecodeError". That happens as soon as several processes publish at once (the
database fault test did it, with retries published from both pool processes). Here a message is written
under a name the reader ignores and renamed into place, which is atomic on POSIX.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"{name}.part")  # not "<queue>.msg": never read
        try:
            with open(partial, "wb", buffering=0) as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
