"""Character sets of MANSCDP bodies: decode by the declaration, fall back to GB 18030, answer in kind.

2022 says GB 18030, 2016 said GB 2312, many devices send UTF-8, and declarations lie. :func:`decode` reads the
declaration however it is spelt (``encoding="gb2312"``, ``encoding='GBK'``, ``encoding-"gb2312"``, none at all)
and then decides by the bytes:

1. pure ASCII: nothing to decide; the charset is the declared one (UTF-8 when none is declared);
2. valid UTF-8 with at least one multi-byte sequence: UTF-8, unless a GB-family charset was declared, the
   bytes are valid GB 18030 too, and the GB reading is the more plausible text (more of its non-ASCII
   characters are common CJK, CJK punctuation or full-width forms). GB-family text rarely forms valid UTF-8
   (its common lead bytes 0xB0-0xF7 are UTF-8 continuation bytes), but short names can: 貋 in GBK is the
   UTF-8 of U+0601. Devices declaring GB2312 and sending UTF-8 are common: their bytes read as GB 18030
   either fail or give kana, box drawing and rare characters, so UTF-8 wins there;
3. otherwise GB 18030 (a superset of GB 2312 and GBK, so every GB-family declaration decodes with it); bytes
   that are not even GB 18030 are replaced with U+FFFD and the result is marked ``lossy``.

The :class:`Decoded` result says which charset the bytes were in, so the endpoint can remember it per device and
answer in kind with :func:`encode`, which writes a matching declaration and turns characters the charset cannot
carry into numeric character references (valid XML that every parser reads back).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["Charset", "Decoded", "charset_from_label", "decode", "encode", "looks_garbled"]


class Charset(enum.StrEnum):
    GB2312 = "gb2312"
    GBK = "gbk"
    GB18030 = "gb18030"
    UTF8 = "utf-8"

    @property
    def label(self) -> str:
        """The name written in an XML declaration."""
        return _LABELS[self]


_LABELS = {Charset.GB2312: "GB2312", Charset.GBK: "GBK", Charset.GB18030: "GB18030", Charset.UTF8: "UTF-8"}
_GB_FAMILY = frozenset({Charset.GB2312, Charset.GBK, Charset.GB18030})
_ALIASES = {
    "gb2312": Charset.GB2312,
    "euccn": Charset.GB2312,
    "xeuccn": Charset.GB2312,
    "csgb2312": Charset.GB2312,
    "gb231280": Charset.GB2312,
    "gbk": Charset.GBK,
    "xgbk": Charset.GBK,
    "cp936": Charset.GBK,
    "ms936": Charset.GBK,
    "windows936": Charset.GBK,
    "gb18030": Charset.GB18030,
    "gb180302000": Charset.GB18030,
    "gb180302005": Charset.GB18030,
    "gb180302022": Charset.GB18030,
    "utf8": Charset.UTF8,
    "ascii": Charset.UTF8,
    "usascii": Charset.UTF8,
}
_UTF8_BOM = b"\xef\xbb\xbf"
# The declaration as devices write it: <?xml ... ?> with the encoding attribute spelt with =, - or :, quoted
# or not; searched only in the first bytes (the declaration is ASCII in every charset we accept).
_DECLARATION = re.compile(rb"^\s*<\?xml\b(.*?)\?>", re.DOTALL | re.IGNORECASE)
_ENCODING = re.compile(rb"""encoding\s*[=\-:]?\s*["']?\s*([A-Za-z0-9._\-]+)""", re.IGNORECASE)
_SNIFF = 256


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded body: ``text`` (BOM removed), the charset the bytes were in, and what the sender declared."""

    text: str
    charset: Charset
    declared: str | None  # the label as written ("gb2312"), None without a declaration or encoding
    mismatch: bool = False  # the bytes were not in the declared charset
    lossy: bool = False  # undecodable bytes were replaced with U+FFFD


def charset_from_label(label: str | None) -> Charset | None:
    """The charset an encoding label names (``GB2312``, ``gbk``, ``UTF8``, ``cp936``), None when unknown."""
    if not label:
        return None
    key = "".join(ch for ch in label.lower() if ch.isalnum())
    return _ALIASES.get(key)


def declared_label(data: bytes) -> str | None:
    """The encoding label of the XML declaration at the start of ``data``, as written; None when absent."""
    head = data[:_SNIFF]
    if head.startswith(_UTF8_BOM):
        head = head[3:]
    match = _DECLARATION.match(head)
    if match is None:
        return None
    encoding = _ENCODING.search(match.group(1))
    return encoding.group(1).decode("ascii") if encoding else None


def _is_common(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"


def _plausibility(text: str) -> float:
    """The share of non-ASCII characters that Chinese device text is made of."""
    wide = [ch for ch in text if ord(ch) > 0x7F]
    return sum(map(_is_common, wide)) / len(wide) if wide else 1.0


def decode(data: bytes) -> Decoded:
    """Decode a body; never raises (bytes no charset accepts become U+FFFD, with ``lossy`` set)."""
    bom = data.startswith(_UTF8_BOM)
    if bom:
        data = data[3:]
    label = declared_label(data)
    declared = charset_from_label(label)
    if data.isascii():
        return Decoded(data.decode("ascii"), declared or Charset.UTF8, label)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if declared in _GB_FAMILY and declared is not None:
            try:
                gb_text = data.decode("gb18030")
            except UnicodeDecodeError:
                pass
            else:
                if _plausibility(gb_text) >= _plausibility(text):
                    return Decoded(gb_text, declared, label)
        return Decoded(text, Charset.UTF8, label, mismatch=label is not None and declared is not Charset.UTF8)
    used = declared if declared in _GB_FAMILY else Charset.GB18030
    mismatch = bom or (label is not None and declared not in _GB_FAMILY)
    try:
        return Decoded(data.decode("gb18030"), used, label, mismatch=mismatch)
    except UnicodeDecodeError:
        return Decoded(data.decode("gb18030", errors="replace"), used, label, mismatch=mismatch, lossy=True)


_TEXT_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml\b.*?\?>\s*", re.DOTALL | re.IGNORECASE)
_CODECS = {Charset.GB2312: "gb2312", Charset.GBK: "gbk", Charset.GB18030: "gb18030", Charset.UTF8: "utf-8"}


def encode(xml_text: str, charset: Charset | str) -> bytes:
    """``xml_text`` as bytes in ``charset`` behind a declaration naming it (an existing declaration is replaced).

    Characters the charset cannot carry become numeric character references (``&#x20AC;``), which is why the
    text must be XML: a reference is only valid in character data and attribute values."""
    chosen = Charset(charset)
    body = _TEXT_DECLARATION.sub("", xml_text, count=1)
    declaration = f'<?xml version="1.0" encoding="{chosen.label}"?>\r\n'
    return (declaration + body).encode(_CODECS[chosen], errors="xmlcharrefreplace")


# Mojibake: UTF-8 bytes that somebody upstream decoded as GBK come out as runs of rare CJK characters and
# punctuation; the reverse mix-up leaves U+FFFD. We store what came and flag it.
def looks_garbled(text: str) -> bool:
    """Whether ``text`` looks like a GBK/UTF-8 mix-up upstream (U+FFFD, or GBK-decoded UTF-8 bytes)."""
    if "\ufffd" in text:
        return True
    if text.isascii():
        return False
    try:
        repaired = text.encode("gb18030").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    # The repaired text must be shorter and mostly CJK: then the original was UTF-8 read as GBK.
    return len(repaired) < len(text) and any("\u4e00" <= ch <= "\u9fff" for ch in repaired)
