"""What newswatch prints is safe for the operator's terminal: no control or bidi character gets through raw.

Why: titles, authors, error messages and feed names come from third parties and are stored as they
came (they are data). Written raw to a terminal, an ``ESC [`` (CSI) or ``ESC ]`` (OSC) sequence can
rewrite the screen, retitle the window or plant a clickable link; a NUL or C1 control confuses the
terminal; a bidi override (U+202E) makes ``evil.exe`` read as ``exe.live``. ``printable()`` is the one
function every printer uses: it replaces each such character by a visible escape (``\\x1b``,
``\\u202e``), so the operator sees that it was there and nothing acts on it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# C0 controls except TAB and LF, DEL, C1 controls, and the Unicode bidi embedding/override/isolate
# marks, plus the line/paragraph separators that some terminals treat as new lines.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
# Tables and one-line messages also escape TAB and LF: one cell or one log line stays one line.
_UNSAFE_INLINE = re.compile(_UNSAFE.pattern[:-1] + "\t\n]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, multiline: bool = True) -> str:
    """``text`` with every control and bidi character replaced by a visible escape.

    Args:
        multiline: keep line feeds and tabs (a multi-line message); false escapes them too (a table cell).
    """
    return (_UNSAFE if multiline else _UNSAFE_INLINE).sub(_escape, text)


def json_printable(text: str) -> str:
    """JSON text with control and bidi characters written as ``\\uXXXX`` escapes.

    The result is still valid JSON and decodes to exactly the same data, so it is used whether the
    JSON goes to a terminal or to a file.
    """
    return _UNSAFE_INLINE.sub(lambda m: f"\\u{ord(m.group(0)):04x}" if m.group(0) not in "\t\n" else m.group(0),
                              text)


def printable_cell(value: Any) -> Any:
    """A table cell made safe to print: strings are escaped on one line, other values are left as they are."""
    if isinstance(value, str):
        return printable(value, multiline=False)
    if isinstance(value, bytes | bytearray):
        return printable(bytes(value).decode("utf-8", "backslashreplace"), multiline=False)
    if isinstance(value, list | tuple):
        return type(value)(printable_cell(v) for v in value)
    if isinstance(value, dict):
        return {printable_cell(k): printable_cell(v) for k, v in value.items()}
    return value


def printable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are safe to print (the data is untouched)."""
    out = frame.map(printable_cell)
    out.columns = [printable_cell(str(c)) for c in frame.columns]
    return out
