"""Scenario names as path components: always one safe file name, never a path.

A scenario's ``name`` is a label written by a user (or by anyone whose scenario file you run);
default results directories are named after it. :func:`safe_name` turns any label into a single
path component: letters (any script), digits, ``_ . -``; everything else (``/``, ``..``, NUL,
spaces, control characters) becomes ``_``, leading dots are dropped, and the result is cut to
:data:`MAX_BYTES` bytes of UTF-8. When anything changed, a short hash of the original label is
appended so that two different labels never share a directory.

    >>> safe_name("six_schemes")
    'six_schemes'
    >>> safe_name("../../../tmp/x")
    'tmp_x-1631a978'
    >>> safe_name("/etc")
    'etc-2824684d'
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

#: Longest slug in UTF-8 bytes (file names may hold 255; a stamp and a hash are added).
MAX_BYTES = 80

_UNSAFE = re.compile(r"[^\w.\-]+")


def safe_name(name: str, *, max_bytes: int = MAX_BYTES) -> str:
    """``name`` as one file name: unchanged when already safe, else a slug plus a hash suffix."""
    text = str(name)
    slug = _UNSAFE.sub("_", unicodedata.normalize("NFC", text)).strip("._-")
    slug = slug.encode("utf-8", "ignore")[:max_bytes].decode("utf-8", "ignore").rstrip("._-")
    if slug == text and slug:
        return slug
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug or 'run'}-{digest}"
