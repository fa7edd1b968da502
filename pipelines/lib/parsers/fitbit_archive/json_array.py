"""Read a top-level JSON array one element at a time.

Fitbit archive files are JSON arrays of records; PMData's merged
`heart_rate.json` is ~120 MB of them. `json.load` would hold the whole array
as Python objects (gigabytes), so elements are decoded one by one from a
sliding text buffer with the standard library's decoder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_WHITESPACE = " \t\n\r"
CHUNK_CHARS = 1 << 20  # read at a time
_LARGEST_RECORD_CHARS = (
    64 << 20
)  # far above any real record; stops a broken file from being read whole


class NotAJsonArray(ValueError):
    """The file is not a well-formed JSON array; `offset` is the character where reading stopped."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _Buffer:
    def __init__(self, path: Path, chunk_chars: int) -> None:
        self._handle = path.open(encoding="utf-8-sig")
        self.chunk_chars = chunk_chars
        self.text = ""
        self.pos = 0
        self.consumed = 0  # characters dropped from the front of `text`
        self.eof = False

    def close(self) -> None:
        self._handle.close()

    @property
    def offset(self) -> int:
        return self.consumed + self.pos

    def more(self) -> bool:
        """Append the next chunk; False at the end of the file."""
        if self.eof:
            return False
        chunk = self._handle.read(self.chunk_chars)
        if not chunk:
            self.eof = True
            return False
        if self.pos > self.chunk_chars:
            self.consumed += self.pos
            self.text = self.text[self.pos :]
            self.pos = 0
        self.text += chunk
        return True

    def next_char(self) -> str:
        """The next non-blank character (not consumed), or "" at the end of the file."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""


def iter_json_array(path: Path, chunk_chars: int = CHUNK_CHARS) -> Iterator[tuple[int, Any]]:
    """Yield (record number from 1, element) for each element of the file's top-level array,
    reading `chunk_chars` characters at a time (an element may span any number of chunks)."""
    decoder = json.JSONDecoder()
    buffer = _Buffer(path, chunk_chars)
    try:
        first = buffer.next_char()
        if first == "":
            raise NotAJsonArray("the file is empty", 0)
        if first != "[":
            kind = "an object" if first == "{" else "not JSON"
            raise NotAJsonArray(
                f"expected a JSON array of records, found {kind} at the start", buffer.offset
            )
        buffer.pos += 1
        if buffer.next_char() == "]":
            buffer.pos += 1
        else:
            number = 0
            while True:
                number += 1
                element = _decode_one(decoder, buffer, number)
                yield number, element
                separator = buffer.next_char()
                buffer.pos += 1
                if separator == "]":
                    break
                if separator != ",":
                    found = repr(separator) if separator else "the end of the file"
                    raise NotAJsonArray(
                        f"expected ',' or ']' after record {number}, found {found}",
                        buffer.offset - 1,
                    )
        if buffer.next_char() != "":
            raise NotAJsonArray("unexpected text after the closing ']'", buffer.offset)
    finally:
        buffer.close()


def _decode_one(decoder: json.JSONDecoder, buffer: _Buffer, number: int) -> Any:
    if buffer.next_char() == "":
        raise NotAJsonArray(f"the file ends before record {number} (truncated?)", buffer.offset)
    while True:
        try:
            element, end = decoder.raw_decode(buffer.text, buffer.pos)
        except json.JSONDecodeError as err:
            if len(buffer.text) - buffer.pos < _LARGEST_RECORD_CHARS and buffer.more():
                continue  # the element may run past the buffer: read on and retry
            if err.pos >= len(buffer.text.rstrip()) or err.msg.startswith("Unterminated"):
                message = f"the file ends inside record {number} (truncated?)"
            else:
                message = f"record {number} is not valid JSON ({err.msg})"
            raise NotAJsonArray(message, buffer.consumed + err.pos) from None
        # a number or literal could continue in the next chunk; objects end with '}' anyway
        if end == len(buffer.text) and buffer.more():
            continue
        buffer.pos = end
        return element
