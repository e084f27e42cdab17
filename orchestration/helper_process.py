"""What `dtm`'s helper processes (dbt's server, the gate worker) share with it: messages framed
by their length, and an end that follows the end of their input."""

from __future__ import annotations

import struct
import subprocess
from typing import IO

# A message's length, before the message.
LENGTH = struct.Struct("!Q")


def write_message(stream: IO[bytes], payload: bytes) -> None:
    """The payload after its length, every byte: a pipe's write can be cut short (a signal
    handled while it waits for the reader), and the rest is written after it."""
    remaining = memoryview(LENGTH.pack(len(payload)) + payload)
    while remaining:
        remaining = remaining[stream.write(remaining) :]
    stream.flush()


def read_message(stream: IO[bytes]) -> bytes:
    """The next payload `write_message` wrote; EOFError if the stream ends first."""
    (length,) = LENGTH.unpack(read_exactly(stream, LENGTH.size))
    return read_exactly(stream, length)


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """`size` bytes from the stream; EOFError if it ends first (the other side has gone)."""
    data = b""
    while len(data) < size:
        part = stream.read(size - len(data))
        if not part:
            raise EOFError
        data += part
    return data


def stop(process: subprocess.Popen) -> None:
    """At this process's end: the helper's input closed, which ends it; killed if it has not
    ended 10 s later."""
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
