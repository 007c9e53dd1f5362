"""Person names: one rule for what a name may hold, how it is stored, and when two names are the same person.

- Stored form: NFC, trimmed, inner whitespace collapsed to one space.
- Refused: control characters, line breaks, lone surrogates, unassigned code points, bidi controls and marks, and
  every other format (Cf) character (zero-width space, soft hyphen, BOM, word joiner...) except where text needs
  it: ZWJ inside an emoji sequence or after a letter (Indic scripts), ZWNJ after a letter (Persian), tag
  characters inside an emoji flag sequence. Variation selectors only directly after a visible character. A name
  needs at least one visible character (a letter, digit, punctuation or symbol that is not default-ignorable).
- Comparison key: NFKC with case folding and Unicode's default-ignorable code points removed (toNFKC_Casefold),
  so names that look alike (fullwidth forms, ligatures, invisible joiners, case) are the same person.
"""

from __future__ import annotations

import unicodedata

from faceapp.errors import NameError_

MAX_NAME_LENGTH = 100

_LINE_BREAKS = "\n\r\x0b\x0c\x85\u2028\u2029"
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp", "Cn"})
ZWNJ, ZWJ, VS15, VS16 = "\u200c", "\u200d", "\ufe0e", "\ufe0f"
_BLACK_FLAG, _CANCEL_TAG = "\U0001f3f4", "\U000e007f"

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): invisible unless a font says otherwise.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def is_default_ignorable(char: str) -> bool:
    """Whether `char` is a default-ignorable code point (rendered as nothing)."""
    code = ord(char)
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _is_tag(char: str) -> bool:
    return 0xE0020 <= ord(char) <= 0xE007F


def _is_emoji(char: str) -> bool:
    """A pictographic character or emoji modifier (So/Sk in the emoji blocks); keycap bases count too."""
    code = ord(char)
    return (
        unicodedata.category(char) == "So"
        or 0x1F000 <= code <= 0x1FAFF
        or 0x1F3FB <= code <= 0x1F3FF
        or char in "0123456789#*"
    )


def _is_visible(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNPS" and not is_default_ignorable(char)


def _is_letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM" and not is_default_ignorable(char)


def _emoji_before(text: str, index: int) -> bool:
    """Whether the run before `index` ends in an emoji (skipping its variation selector or modifier)."""
    j = index - 1
    while j >= 0 and (_is_variation_selector(text[j]) or 0x1F3FB <= ord(text[j]) <= 0x1F3FF):
        j -= 1
    return j >= 0 and _is_emoji(text[j])


def _in_flag_tags(text: str, index: int) -> bool:
    """Whether the tag character at `index` belongs to a black flag + tags + cancel tag sequence."""
    start = index
    while start > 0 and _is_tag(text[start - 1]):
        start -= 1
    end = index
    while end < len(text) - 1 and _is_tag(text[end + 1]) and text[end] != _CANCEL_TAG:
        end += 1
    return start > 0 and text[start - 1] == _BLACK_FLAG and text[end] == _CANCEL_TAG


def _allowed_format(text: str, index: int) -> bool:
    """Whether the format or selector character at `index` is one a real name needs there."""
    char = text[index]
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    # After a letter or mark, a joiner shapes that letter (Persian ZWNJ, Malayalam chillu at a word's end).
    in_word = bool(before) and _is_letter(before) and (not after or after.isspace() or _is_letter(after))
    if char == ZWJ:
        return in_word or (_emoji_before(text, index) and bool(after) and _is_emoji(after))
    if char == ZWNJ:
        return in_word
    if _is_tag(char):
        return _in_flag_tags(text, index)
    if _is_variation_selector(char):
        return bool(before) and _is_visible(before)
    return False


def _first_forbidden(text: str) -> tuple[int, str] | None:
    """(index, what) of the first character a name may not hold, if any."""
    for i, char in enumerate(text):
        category = unicodedata.category(char)
        if char in _LINE_BREAKS:
            return i, "line breaks"
        if category in _FORBIDDEN_CATEGORIES:
            return i, "unassigned code points" if category == "Cn" else "control characters"
        if char in _BIDI_CONTROLS:  # can make a name display as something else ("Trojan Source")
            return i, "bidi control characters"
        if (category == "Cf" or _is_variation_selector(char)) and not _allowed_format(text, i):
            return i, "invisible format characters"
    return None


def normalize_name(raw: str) -> str:
    """The stored form of a name: NFC, trimmed, inner whitespace collapsed to one space; NameError_ says why not."""
    if not isinstance(raw, str):
        raise NameError_(f"A name must be text, not {type(raw).__name__}.")
    try:
        text = unicodedata.normalize("NFC", raw)
    except UnicodeError:
        raise NameError_("A name must be valid text.") from None
    bad = _first_forbidden(text)
    if bad is not None:
        index, what = bad
        raise NameError_(f"A name cannot contain {what} (found U+{ord(text[index]):04X}).")
    name = " ".join(text.split())
    if not name or not any(_is_visible(c) for c in name):
        raise NameError_("A name cannot be empty." if not name else "A name needs at least one visible character.")
    if len(name) > MAX_NAME_LENGTH:
        raise NameError_(f"A name can be at most {MAX_NAME_LENGTH} characters long (this one has {len(name)}).")
    return name


def name_key(name: str) -> str:
    """The comparison key of a name: two names with the same key are the same person (see the module docstring)."""
    text = "".join(c for c in unicodedata.normalize("NFKC", name) if not is_default_ignorable(c))
    key = unicodedata.normalize("NFKC", text.casefold())
    return " ".join("".join(c for c in key if not is_default_ignorable(c)).split())
