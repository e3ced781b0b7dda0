"""Safe reading of device XML: bytes in, a :class:`Document` with case-insensitive :class:`Node` access out.

Steps, each cheap when the body is clean (a check before every rewrite):

1. size bound (``max_size``, default 10 MiB) before anything else;
2. :func:`~xueliang.protocol.manscdp.charset.decode` (declaration, UTF-8 or GB 18030), BOM and declaration
   removed (lxml refuses a ``str`` that still carries an encoding declaration);
3. any ``<!DOCTYPE`` or ``<!ENTITY`` is refused: MANSCDP has no DTD, so a body with one is hostile
   (billion laughs) or broken, and refusing is cheaper than any expansion limit;
4. repairs of the usual device faults: garbage before the first ``<``, control characters XML 1.0 forbids, a
   ``&`` that starts no entity (``<Name>A&B</Name>``), garbage after the root's end tag (NUL padding, a second
   half-message); a missing root end tag is ``truncated`` and refused, never read as a short catalog;
5. lxml with entities unresolved, no network, no DTD, no huge trees and ``recover=True`` for whatever is left.

Element names are matched case-insensitively (``<cmdType>``, ``<Alarmstatus>``) and namespaces ignored; values
are stripped, and the literal placeholders devices leave in templates (``null``, ``Owner``, ``CivilCode``,
``Manufacturer``, ``Address``) read as empty (not every value equal to its element name:
``<Online>ONLINE</Online>`` is a value). Repairs are listed on the document so the endpoint can count them per
device.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from xueliang.protocol.manscdp.charset import Charset, decode
from xueliang.protocol.manscdp.errors import XmlError

__all__ = [
    "MAX_BODY_SIZE",
    "PLACEHOLDERS",
    "Document",
    "Node",
    "clean_value",
    "key_of",
    "local_name",
    "read_document",
]

MAX_BODY_SIZE = 10 * 1024 * 1024

# One parser per process: the platform parses on its event loop thread. (lxml serialises concurrent use of a
# parser; only the "recovered" repair flag, read from the parser's error log, would be unreliable across threads.)
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=False,
    load_dtd=False,
    recover=True,
    remove_comments=True,
    remove_pis=True,
)
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BAD_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});)")
_ROOT_TAG = re.compile(r"<\s*([A-Za-z_][\w.\-:]*)")
PLACEHOLDERS = frozenset({"null", "owner", "civilcode", "manufacturer", "address"})  # "Address": Hikvision RecordInfo


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed body: its root, the charset its bytes were in, what was declared, and what was repaired."""

    root: Node
    charset: Charset
    declared: str | None
    repairs: tuple[str, ...] = ()


def read_document(data: bytes, *, max_size: int = MAX_BODY_SIZE) -> Document:
    """Parse a MANSCDP body. Raises :class:`XmlError` (and nothing else) for what cannot be read."""
    if len(data) > max_size:
        raise XmlError("xml.too_large", f"body of {len(data)} bytes exceeds the limit of {max_size}")
    decoded = decode(data)
    repairs: list[str] = []
    if decoded.mismatch:
        repairs.append("charset.mismatch")
    if decoded.lossy:
        repairs.append("charset.lossy")
    text = _strip_declaration(decoded.text)
    start = text.find("<")
    if start < 0:
        raise XmlError("xml.empty", "no element in the body")
    if start > 0:
        if text[:start].strip():
            repairs.append("leading_garbage")
        text = text[start:]
    if "<!" in text and _DTD.search(text):
        raise XmlError("xml.dtd", "DOCTYPE/ENTITY declarations are not allowed in MANSCDP")
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
        repairs.append("control_characters")
    if "&" in text and _BAD_AMPERSAND.search(text):
        text = _BAD_AMPERSAND.sub("&amp;", text)
        repairs.append("unescaped_ampersand")
    text = _cut_after_root(text, repairs)
    try:
        root = etree.fromstring(text, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:  # ValueError: lxml refusing the input string itself
        raise XmlError("xml.malformed", str(exc) or "unparseable") from exc
    if root is None or not isinstance(root.tag, str):
        raise XmlError("xml.malformed", "no root element")
    if _PARSER.error_log:
        repairs.append("recovered")
    return Document(Node(root), decoded.charset, decoded.declared, tuple(repairs))


def _strip_declaration(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    head = text.lstrip()
    if head.startswith("<?"):
        end = head.find("?>")
        if end < 0:
            raise XmlError("xml.truncated", "the XML declaration is not closed")
        return head[end + 2 :]
    return text


def _cut_after_root(text: str, repairs: list[str]) -> str:
    """The text up to the root's end tag; garbage after it is cut, a missing end tag is ``xml.truncated``."""
    match = _ROOT_TAG.match(text)
    if match is None:
        raise XmlError("xml.malformed", "the body does not start with an element")
    name = match.group(1)
    open_end = text.find(">", match.end())
    if open_end < 0:
        raise XmlError("xml.truncated", f"the start tag <{name}> is not closed")
    if text[open_end - 1] == "/":  # <Notify/>: an empty root
        end = open_end + 1
    else:
        end = _find_end_tag(text, name)
        if end < 0:
            raise XmlError("xml.truncated", f"the root element <{name}> has no end tag")
    if end < len(text) and text[end:].strip():
        repairs.append("trailing_garbage")
        return text[:end]
    return text


def _find_end_tag(text: str, name: str) -> int:
    """The index just after the last ``</name>`` (any case, spaces allowed before ``>``); -1 when absent."""
    at = text.rfind("</" + name)
    if at < 0:
        at = text.lower().rfind("</" + name.lower())
        if at < 0:
            return -1
    close = text.find(">", at)
    return -1 if close < 0 else close + 1


# ------------------------------------------------------------------------------------------------------ nodes


def local_name(tag: str) -> str:
    """An element's name without namespace, in its own case."""
    return _local(tag)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if tag.startswith("{") else tag


_KEYS: dict[str, str] = {}  # tag -> lower-case local name; bounded, a hostile body cannot grow it


def key_of(tag: str) -> str:
    """The lower-case local name of an element's tag (cached): what lookups compare."""
    key = _KEYS.get(tag)
    if key is None:
        key = _local(tag).lower()
        if len(_KEYS) < 4096:
            _KEYS[tag] = key
    return key


def clean_value(raw: str | None) -> str:
    """A stripped value; the template placeholders (``null``, ``Owner``, ``CivilCode``, ``Manufacturer``,
    ``Address``, any case) read as empty."""
    if not raw:
        return ""
    value = raw.strip()
    if len(value) <= 12 and value.casefold() in PLACEHOLDERS:
        return ""
    return value


class Node:
    """One element, looked up case-insensitively. Thin: wraps the lxml element, indexes children on first use."""

    __slots__ = ("_element", "_index", "key", "name")

    def __init__(self, element: Any) -> None:
        self._element = element
        self.name: str = _local(element.tag)
        self.key: str = key_of(element.tag)
        self._index: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Node({self.name!r})"

    def _children(self) -> dict[str, Any]:
        index = self._index
        if index is None:
            index = {}
            for child in self._element:
                tag = child.tag
                if isinstance(tag, str):
                    index.setdefault(key_of(tag), child)
            self._index = index
        return index

    @property
    def value(self) -> str:
        """This element's own text, cleaned."""
        return clean_value(self._element.text)

    @property
    def element(self) -> Any:
        """The lxml element, for hot paths that iterate children themselves (see catalog_item._read_level)."""
        return self._element

    def has(self, name: str) -> bool:
        return name.lower() in self._children()

    def child(self, name: str) -> Node | None:
        element = self._children().get(name.lower())
        return None if element is None else Node(element)

    def text(self, name: str) -> str:
        """The cleaned text of the first child called ``name`` ("" when absent or a placeholder)."""
        element = self._children().get(name.lower())
        return "" if element is None else clean_value(element.text)

    def children(self, name: str | None = None) -> Iterator[Node]:
        """Child elements in document order, all or those called ``name``."""
        key = None if name is None else name.lower()
        for child in self._element:
            tag = child.tag
            if isinstance(tag, str) and (key is None or key_of(tag) == key):
                yield Node(child)

    @property
    def is_leaf(self) -> bool:
        return not any(isinstance(child.tag, str) for child in self._element)

    def attribute(self, name: str) -> str:
        key = name.lower()
        for attr, value in self._element.attrib.items():
            if _local(attr).lower() == key:
                return str(value).strip()
        return ""

    def others(self, known: frozenset[str], prefix: str = "") -> dict[str, str]:
        """Children whose names are not in ``known`` (lower-case) as ``{name: text}``, nested ones flattened
        to ``Parent/Child``: vendor elements kept for whoever needs them."""
        out: dict[str, str] = {}
        for child in self.children():
            if child.key in known:
                continue
            if child.is_leaf:
                out.setdefault(prefix + child.name, (child._element.text or "").strip())
            else:
                out.update(child.others(frozenset(), f"{prefix}{child.name}/"))
        return out
