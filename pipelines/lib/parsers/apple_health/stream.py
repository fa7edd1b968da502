"""Reading an Apple Health export safely: the XML bytes out of export.zip or export.xml, then its elements.

An export is one XML document that can reach several gigabytes, sent by people
we do not control. It is therefore never extracted and never held whole:
`open_export` streams the bytes (from the zip member or the plain file), and
`top_level_elements` hands out one finished top-level element at a time and
frees it, and everything before it, once the caller is done with it.

Safety, in the order it applies:
- zip: every entry name is checked (an absolute path or a `..` component is
  refused as suspicious even though nothing is extracted); the member's declared
  size and compression ratio are capped before a byte is inflated, and the bytes
  actually read are counted against the same cap (headers can lie).
- prolog: Apple's export starts with an internal DTD that declares elements and
  attributes only. A prolog that declares `<!ENTITY …>` is refused outright (the
  billion-laughs family needs one). The DTD is then dropped before parsing: it
  is never needed (nothing is validated and it sets no attribute defaults), and
  iOS 16 exports ship a malformed one that breaks strict parsers. Its lines are
  replaced by blank lines so that line numbers in issues still match the file.
- parser: lxml with `resolve_entities=False`, `no_network=True`,
  `load_dtd=False`. `huge_tree` stays off: no Apple element needs a text node
  over 10 MB or nesting deeper than 256, and the flag would lift libxml2's
  entity-amplification guard as well.
- control characters that XML 1.0 forbids (iOS 16 exports contain U+000B) are
  replaced by spaces and counted, instead of failing the whole export.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from lxml import etree

# Largest export.xml we will read (uncompressed). A decade of Apple Watch data is
# a few GB; raise it here if a real export is refused.
MAX_EXPORT_BYTES = 8 * 1024**3
# Deflated XML reaches 20–60×; a zip bomb reaches ~1000×.
MAX_COMPRESSION_RATIO = 200
# The prolog (XML declaration + Apple's DTD) is a few KB; the root must start within this.
MAX_PROLOG_BYTES = 4 * 1024**2
EXPORT_MEMBER = "apple_health_export/export.xml"

# Elements directly under <HealthData>. Each one is freed after use; a Record
# nested in a Correlation repeats a top-level one and is skipped by the caller.
TOP_LEVEL_TAGS = (
    "ExportDate",
    "Me",
    "Record",
    "Correlation",
    "Workout",
    "ActivitySummary",
    "ClinicalRecord",
    "Audiogram",
    "VisionPrescription",
)

_READ_BLOCK = 1 << 20
FREE_EVERY = 512  # finished top-level elements held before they are freed
# C0 controls that XML 1.0 forbids (tab, LF and CR are allowed); never part of a UTF-8 multi-byte sequence
_FORBIDDEN = bytes(b for b in range(32) if b not in (9, 10, 13))
_BLANK_FORBIDDEN = bytes.maketrans(_FORBIDDEN, b" " * len(_FORBIDDEN))


class ExportRefused(Exception):
    """The file cannot or must not be read; the message says why, for the person who sent it."""


class _ExportBytes:
    """File-like view of the export's XML for lxml: cleaned prolog first, then the rest, counted and capped.

    `until`/`since` (a byte offset from `find_cut`): only the elements before it, closed with
    `</HealthData>`, or only those from it on, opened with `<HealthData>` (halves.py).
    """

    def __init__(
        self, raw: BinaryIO, limit: int, until: int | None = None, since: int | None = None
    ) -> None:
        self._raw = raw
        self._limit = limit
        self._read = 0
        self._until = until
        self._closed = False
        self.control_characters = 0
        if since is None:
            self._pending = self._clean_prolog()
        else:
            self._pending = b"<HealthData>" + self._skip_to(since)

    def _take(self, size: int) -> bytes:
        """The next raw bytes (up to `until`, then the closing tag), counted against the cap."""
        if self._until is not None and self._read >= self._until:
            if self._closed:
                return b""
            self._closed = True
            return b"</HealthData>\n"
        block = self._raw.read(size)
        start = self._read
        self._read += len(block)
        if self._read > self._limit:
            raise ExportRefused(
                f"export.xml inflates beyond the {_size(self._limit)} this parser reads "
                "(MAX_EXPORT_BYTES); if the export is genuine, raise that limit"
            )
        if self._until is not None and self._read >= self._until:
            block = block[: self._until - start]
            self._read = self._until
        return block

    def _blank(self, block: bytes) -> bytes:
        bad = len(block) - len(block.translate(None, _FORBIDDEN))
        if bad:
            self.control_characters += bad
            block = block.translate(_BLANK_FORBIDDEN)
        return block

    def _pull(self, size: int) -> bytes:
        return self._blank(self._take(size))

    def _skip_to(self, since: int) -> bytes:
        while True:
            start = self._read
            block = self._take(_READ_BLOCK)
            if not block:
                raise ExportRefused(f"export.xml ends before byte {since}")
            if self._read > since:
                return self._blank(block[since - start :])

    def _clean_prolog(self) -> bytes:
        head = b""
        while True:
            block = self._pull(_READ_BLOCK)
            head += block
            root = _root_start(head)
            if root >= 0:
                break
            if not block or len(head) > MAX_PROLOG_BYTES:
                where = (
                    "in the file" if not block else f"in its first {MAX_PROLOG_BYTES // 1024**2} MB"
                )
                raise ExportRefused(
                    f"not an Apple Health export: no <HealthData> root element {where}"
                )
        prolog, rest = head[:root], head[root:]
        if b"<!ENTITY" in prolog:
            raise ExportRefused(
                "export.xml declares XML entities (<!ENTITY …>); Apple Health exports never do, "
                "and entity expansion is a known attack — refused unread"
            )
        declaration = b""
        stripped = prolog.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"<?xml"):
            end = prolog.find(b"?>") + 2
            declaration, prolog = prolog[:end], prolog[end:]
        return declaration + b"\n" * prolog.count(b"\n") + rest

    def read(self, size: int = -1) -> bytes:
        size = size if size and size > 0 else _READ_BLOCK
        if self._pending:
            out, self._pending = self._pending[:size], self._pending[size:]
            return out
        return self._pull(size)


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.1f} MiB"


def _root_start(head: bytes) -> int:
    at = head.find(b"<HealthData")
    while at >= 0:
        after = head[at + len(b"<HealthData") : at + len(b"<HealthData") + 1]
        if after in (b" ", b">", b"\n", b"\r", b"\t", b"/"):
            return at
        if not after:  # the name may continue in the next block
            return -1
        at = head.find(b"<HealthData", at + 1)
    return -1


def _unsafe_name(name: str) -> bool:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":"):
        return True
    return ".." in PurePosixPath(normal).parts


def _pick_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    infos = archive.infolist()
    for info in infos:
        if _unsafe_name(info.filename):
            raise ExportRefused(
                f"zip entry {info.filename!r} points outside its folder (absolute path or '..'); "
                "Apple Health exports never contain such names, so the archive is treated as "
                "suspicious — re-export it from the Health app"
            )
    exact = [i for i in infos if i.filename == EXPORT_MEMBER]
    candidates = exact or [
        i for i in infos if PurePosixPath(i.filename).name == "export.xml" and not i.is_dir()
    ]
    if not candidates:
        raise ExportRefused(
            "zip holds no export.xml (expected apple_health_export/export.xml, as the Health app writes it)"
        )
    if len(candidates) > 1:
        names = ", ".join(sorted(i.filename for i in candidates))
        raise ExportRefused(
            f"zip holds several export.xml files ({names}); send one export per zip"
        )
    member = candidates[0]
    if member.flag_bits & 0x1:
        raise ExportRefused(f"{member.filename} in the zip is encrypted")
    if member.file_size > MAX_EXPORT_BYTES:
        raise ExportRefused(
            f"{member.filename} would inflate to {_size(member.file_size)}, above the "
            f"{_size(MAX_EXPORT_BYTES)} limit (MAX_EXPORT_BYTES)"
        )
    ratio = member.file_size / max(member.compress_size, 1)
    if ratio > MAX_COMPRESSION_RATIO:
        raise ExportRefused(
            f"{member.filename} compresses {ratio:.0f}:1, beyond the {MAX_COMPRESSION_RATIO}:1 a real "
            "export reaches (MAX_COMPRESSION_RATIO): refused as a possible zip bomb"
        )
    return member


@contextmanager
def _raw_export(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """The export's raw XML stream and its size, from export.zip's member or export.xml."""
    if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as err:
            raise ExportRefused(f"not a readable zip file ({err}); re-send the export.zip") from err
        with archive:
            member = _pick_member(archive)
            with archive.open(member) as raw:
                yield raw, member.file_size
    else:
        if path.stat().st_size > MAX_EXPORT_BYTES:
            raise ExportRefused(
                f"export.xml is {_size(path.stat().st_size)}, above the {_size(MAX_EXPORT_BYTES)} "
                "this parser reads (MAX_EXPORT_BYTES); if the export is genuine, raise that limit"
            )
        with path.open("rb") as raw:
            yield raw, path.stat().st_size


@contextmanager
def open_export(
    path: Path, until: int | None = None, since: int | None = None
) -> Iterator[_ExportBytes]:
    """The export's XML bytes, from export.zip (streamed from the member) or export.xml.

    `until`/`since`: the part before or from a cut (`find_cut`), as a document of its own.
    """
    with _raw_export(path) as (raw, _):
        yield _ExportBytes(raw, MAX_EXPORT_BYTES, until, since)


def export_size(path: Path) -> int:
    """Bytes of XML the export holds (the zip member's declared size)."""
    with _raw_export(path) as (_, size):
        return size


# a line that starts a top-level element (Apple writes one per line, indented by one space)
_CUT = re.compile(rb"\n[ \t]{0,64}<(?:Record|Workout|ActivitySummary|Correlation)[ \t\r\n/>]")
_CUT_TAIL = 128  # bytes kept from one block to find a cut that straddles two


def find_cut(path: Path, at: int) -> tuple[int, int] | None:
    """Where to cut the export in two: the first line at or after byte `at` that starts a
    top-level element, and how many lines come before it; None if no line does.

    Only a guess from the bytes (the line could sit in the prolog, a comment or an open
    element): each part is then parsed as a document of its own, and a wrong guess leaves
    the first part unclosed, which the parser refuses (halves.py then reads in one pass).
    """
    with _raw_export(path) as (raw, _):
        offset = newlines = 0  # bytes read, and the newlines among them
        tail = b""
        while block := raw.read(_READ_BLOCK):
            block = block.translate(_BLANK_FORBIDDEN)  # as the parts are read
            data, data_start = tail + block, offset - len(tail)
            if offset + len(block) >= at:
                found = _CUT.search(data, max(at - 1 - data_start, 0))
                if found:
                    cut = found.start() + 1
                    before = newlines - tail.count(b"\n") + data.count(b"\n", 0, cut)
                    return data_start + cut, before
            offset += len(block)
            newlines += block.count(b"\n")
            tail = data[-_CUT_TAIL:]
    return None


def top_level_elements(source: _ExportBytes) -> Iterator[etree._Element]:
    """Each finished element under <HealthData>, freed (with all before it) once the caller resumes."""
    events = etree.iterparse(
        source,
        events=("end",),
        tag=TOP_LEVEL_TAGS,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )
    root = None
    held = 0
    for _, element in events:
        parent = element.getparent()
        if parent is not root:
            if parent is None or parent.getparent() is not None:
                continue  # a Record inside a Correlation repeats a top-level one; freed with its Correlation
            root = parent
        yield element
        held += 1
        if held == FREE_EVERY:
            # free every element before this one, in one call rather than one each (those
            # after it may be parsed already, waiting to be handed out: they stay)
            del root[: root.index(element)]
            held = 0
