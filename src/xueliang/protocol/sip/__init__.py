"""SIP for GB/T 28181, sans I/O: bytes in, typed messages out; typed messages in, bytes out.

Modules, bottom up:

- :mod:`.errors` - ``SipError`` > ``RemoteProtocolError`` (their input, with a SIP ``status_hint``) /
  ``LocalProtocolError`` (our misuse).
- :mod:`.grammar`, :mod:`.uri`, :mod:`.headers`, :mod:`.fields` - tokens and parameters, ``SipUri``, ordered
  case-insensitive ``Headers``, typed ``Via`` / ``NameAddr`` / ``CSeq`` and the GB ``Date``.
- :mod:`.parser`, :mod:`.message` - ``Request`` / ``Response`` with ``parse`` and ``__bytes__``; ``Limits``.
- :mod:`.builders` - responses to a request, ACK, CANCEL, new requests, branches, tags, Call-IDs.
- :mod:`.framing` - ``StreamReader`` (TCP) and ``parse_datagram`` (UDP).
- :mod:`.digest`, :mod:`.auth` - digest (MD5, SHA-256, SM3): challenges, credentials, the client's answer;
  the server-side ``DigestChallenger``.
- :mod:`.transaction_table`, :mod:`.transactions` - RFC 3261 client and server transactions: the state tables
  and the machine that walks them on the caller's clock.
"""

from xueliang.protocol.sip.auth import DigestChallenger, Verdict
from xueliang.protocol.sip.builders import (
    REASON_PHRASES,
    make_ack,
    make_cancel,
    make_request,
    make_response,
    new_branch,
    new_call_id,
    new_tag,
    stamp_source,
)
from xueliang.protocol.sip.digest import (
    DigestChallenge,
    DigestCredentials,
    answer_challenge,
    challenges_in,
    credentials_in,
    digest_response,
)
from xueliang.protocol.sip.errors import LocalProtocolError, RemoteProtocolError, SipError
from xueliang.protocol.sip.fastpath import QuickKeepalive, quick_answer, quick_keepalive
from xueliang.protocol.sip.fields import (
    BRANCH_MAGIC,
    CSeq,
    NameAddr,
    Via,
    format_gb_date,
    parse_gb_date,
    response_target,
)
from xueliang.protocol.sip.framing import CLOSED, NEED_DATA, Signal, StreamReader, parse_datagram
from xueliang.protocol.sip.headers import Headers
from xueliang.protocol.sip.message import Message, Method, Request, Response, parse_message
from xueliang.protocol.sip.parser import DEFAULT_LIMITS, Limits
from xueliang.protocol.sip.transaction_table import State, Timer
from xueliang.protocol.sip.transactions import (
    ClientTransaction,
    Deliver,
    Event,
    ServerTransaction,
    Terminated,
    Timeout,
    TimerValues,
    TransactionKey,
    Transmit,
    TransportFailed,
    client_key,
    server_key,
)
from xueliang.protocol.sip.uri import SipUri

__all__ = [
    "BRANCH_MAGIC",
    "CLOSED",
    "DEFAULT_LIMITS",
    "NEED_DATA",
    "REASON_PHRASES",
    "CSeq",
    "ClientTransaction",
    "Deliver",
    "DigestChallenge",
    "DigestChallenger",
    "DigestCredentials",
    "Event",
    "Headers",
    "Limits",
    "LocalProtocolError",
    "Message",
    "Method",
    "NameAddr",
    "QuickKeepalive",
    "RemoteProtocolError",
    "Request",
    "Response",
    "ServerTransaction",
    "Signal",
    "SipError",
    "SipUri",
    "State",
    "StreamReader",
    "Terminated",
    "Timeout",
    "Timer",
    "TimerValues",
    "TransactionKey",
    "Transmit",
    "TransportFailed",
    "Verdict",
    "Via",
    "answer_challenge",
    "challenges_in",
    "client_key",
    "credentials_in",
    "digest_response",
    "format_gb_date",
    "make_ack",
    "make_cancel",
    "make_request",
    "make_response",
    "new_branch",
    "new_call_id",
    "new_tag",
    "parse_datagram",
    "parse_gb_date",
    "parse_message",
    "quick_answer",
    "quick_keepalive",
    "response_target",
    "server_key",
    "stamp_source",
]
