"""Reading one FIT file with Garmin's own FIT SDK, message by message in file order.

The SDK groups decoded messages by type, but monitoring files need the order of
the file (a `timestamp_16` counts from the last full timestamp before it), so
messages are collected through its listener instead. Times stay FIT seconds
(since 1989-12-31 00:00 UTC) until a row is built.

A file that is not FIT, is cut short or fails its checksum raises `FitError`
with a reason a person can act on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from garmin_fit_sdk import Decoder, Profile, Stream

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
MAX_OFFSET_MIN = 14 * 60  # no time zone is further than UTC±14:00

_MESSAGE_NAMES = {number: m["name"] for number, m in Profile["messages"].items()}
_CRC_SIZE = 2
_AGAIN = "copy it again from the device or export it again from Garmin Connect"


class FitError(Exception):
    """A file that cannot be read as FIT; the message says why, in plain words."""


@dataclass(frozen=True)
class Message:
    number: int  # 1-based position among the file's data messages: the "line" of an issue
    name: str  # profile name, e.g. "session"; the global message number as text when unknown
    fields: dict


@dataclass
class FitFile:
    messages: list[Message]
    warnings: list[str] = field(default_factory=list)

    def first(self, name: str) -> dict:
        return next((m.fields for m in self.messages if m.name == name), {})

    def of(self, name: str) -> list[Message]:
        return [m for m in self.messages if m.name == name]

    @property
    def file_type(self) -> str | int | None:
        return self.first("file_id").get("type")

    @property
    def device(self) -> str:
        """The product name the SDK knows (e.g. "fenix5", "vivo_fit"), else manufacturer and product number."""
        file_id = self.first("file_id")
        product = file_id.get("garmin_product")
        if isinstance(product, str):
            return product
        parts = [str(file_id[k]) for k in ("manufacturer", "product") if file_id.get(k) is not None]
        return " ".join(parts)


def read_fit(path: Path) -> FitFile:
    data = path.read_bytes()
    data, warnings = _check_frame(data)
    messages: list[Message] = []

    def collect(number: int, fields: dict) -> None:
        messages.append(Message(len(messages) + 1, _MESSAGE_NAMES.get(number, str(number)), fields))

    _, errors = Decoder(Stream.from_byte_array(bytearray(data))).read(
        apply_scale_and_offset=True,
        convert_datetimes_to_dates=False,
        convert_types_to_strings=True,
        enable_crc_check=True,
        expand_sub_fields=True,
        expand_components=True,
        # Merging `hr` messages into records fails on files without records; record HR is enough here.
        merge_heart_rates=False,
        mesg_listener=collect,
    )
    if errors:
        raise FitError(_plain(errors[0], len(messages)))
    return FitFile(messages, warnings)


def _check_frame(data: bytes) -> tuple[bytes, list[str]]:
    """Check the FIT header(s) against the file's length before decoding.

    A FIT file may hold several FIT files back to back (chained); bytes after the
    last one that do not start another FIT header are dropped with a warning.
    """
    if not data:
        raise FitError("is empty (0 bytes) — " + _AGAIN)
    position, warnings = 0, []
    while position < len(data):
        header = _header(data, position)
        if header is None:
            if position == 0:
                raise FitError(
                    "is not a FIT file (it does not start with a FIT header) — "
                    "export the activity or health data from Garmin in FIT format"
                )
            warnings.append(
                f"{len(data) - position} byte(s) after the end of the FIT data were ignored"
            )
            return data[:position], warnings
        header_size, data_size = header
        end = position + header_size + data_size + _CRC_SIZE
        if end > len(data):
            raise FitError(
                f"is cut short: its header announces {header_size + data_size + _CRC_SIZE:,} bytes "
                f"but only {len(data) - position:,} are there (an interrupted copy or sync?) — "
                + _AGAIN
            )
        position = end
    return data, warnings


def _header(data: bytes, position: int) -> tuple[int, int] | None:
    if len(data) - position < 12:
        return None
    header_size = data[position]
    if header_size not in (12, 14) or data[position + 8 : position + 12] != b".FIT":
        return None
    (data_size,) = struct.unpack_from("<I", data, position + 4)
    return header_size, data_size


def _plain(error: Exception, decoded: int) -> str:
    text = str(error)
    if "CRC" in text:
        return "fails its checksum (CRC): the file is damaged — " + _AGAIN
    if "Compressed timestamp" in text:
        return (
            "uses compressed-timestamp records, which Garmin's FIT SDK for Python cannot decode; "
            "export the data from Garmin Connect instead of the device"
        )
    return (
        f"could not be decoded after {decoded} message(s) ({type(error).__name__}: {text}) — "
        + _AGAIN
    )


def utc(seconds: float) -> datetime:
    return FIT_EPOCH + timedelta(seconds=seconds)


def offset_minutes(local_timestamp: object, timestamp: object) -> int | None:
    """The device's UTC offset from a local/UTC timestamp pair; None when absent or impossible."""
    if not isinstance(local_timestamp, int) or not isinstance(timestamp, int):
        return None
    minutes = round((local_timestamp - timestamp) / 60)
    return minutes if abs(minutes) <= MAX_OFFSET_MIN else None
