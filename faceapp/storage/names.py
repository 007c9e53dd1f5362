"""Person names: one normal form for storing and showing, and one key for case-insensitive uniqueness."""

from __future__ import annotations

import unicodedata

from faceapp.errors import NameError_

MAX_NAME_LENGTH = 100

# Bidirectional embeddings, overrides and isolates can make a name display as something else ("Trojan Source");
# other format characters (zero-width joiners used by several scripts and emoji) stay allowed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _first_forbidden(text: str) -> str | None:
    """The first control character, line break, lone surrogate or bidi control in `text`, if any."""
    for char in text:
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return char
    return None


def normalize_name(raw: str) -> str:
    """The stored form of a name: NFC, trimmed, inner whitespace collapsed to one space; NameError_ says why not."""
    if not isinstance(raw, str):
        raise NameError_(f"A name must be text, not {type(raw).__name__}.")
    text = unicodedata.normalize("NFC", raw)
    bad = _first_forbidden(text)
    if bad is not None:
        what = "line breaks" if bad in "\n\r\x0b\x0c\x85\u2028\u2029" else "control characters"
        raise NameError_(f"A name cannot contain {what} (found U+{ord(bad):04X}).")
    name = " ".join(text.split())
    if not name:
        raise NameError_("A name cannot be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise NameError_(f"A name can be at most {MAX_NAME_LENGTH} characters long (this one has {len(name)}).")
    return name


def name_key(name: str) -> str:
    """The case-insensitive key of a normalised name: two names with the same key are the same person."""
    return unicodedata.normalize("NFC", name.casefold())
