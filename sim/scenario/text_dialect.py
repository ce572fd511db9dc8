"""How an exported CSV file (orders, spend) is written: its text encoding and the character
between its columns.

Exports from Chinese shop back-ends and from spreadsheets saved there are often GBK (GB18030)
text, not UTF-8; spreadsheets in many locales save CSV with semicolons. A file is read as UTF-8
(a byte-order mark allowed) when all of it is UTF-8 text, else as GB18030 when all of it is
that — checked over the whole file before anything is parsed, so a file is never read half in
one encoding — and the reading is said in the notes. Its columns are separated by a comma, or
else by the first of ``;``, tab and ``|`` that splits the header.

    >>> delimiter_of("buyer;paid_at;total")
    ';'
    >>> delimiter_of("buyer,paid_at;local,total")
    ','
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass

DELIMITERS = (",", ";", "\t", "|")
ENCODINGS = ("utf-8-sig", "gb18030")
BLOCK = 1 << 20  # bytes decoded at a time when checking a file's encoding


@dataclass(frozen=True)
class Dialect:
    """The delimiter between columns and the text encoding (pandas' ``sep`` and ``encoding``)."""

    sep: str = ","
    encoding: str = ENCODINGS[0]

    @property
    def note(self) -> str | None:
        if self.encoding == "gb18030":
            return "the file is not UTF-8 text: read as GB18030 (GBK), as Chinese exports often are"
        return None


def delimiter_of(header_line: str) -> str:
    """A comma, or else the first of ``;``, tab and ``|`` that splits the header line."""
    for d in DELIMITERS:
        if len(next(csv.reader([header_line], delimiter=d))) > 1:
            return d
    return ","


def encoding_of(path) -> str | None:
    """The first of :data:`ENCODINGS` in which the whole file decodes, or None."""
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as fh:
                while block := fh.read(BLOCK):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return None
