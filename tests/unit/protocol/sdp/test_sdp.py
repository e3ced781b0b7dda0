"""SDP of GB/T 28181: real-looking vendor answers, the platform's offer, round trips, bad and truncated input."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from xueliang.domain.streams import MediaTransport
from xueliang.protocol.sdp import (
    PS_PAYLOAD,
    Direction,
    RtpMap,
    Sdp,
    SdpError,
    Setup,
    format_ssrc,
    make_offer,
)

DATA = Path(__file__).parents[3] / "data" / "sdp"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_hikvision_udp_answer() -> None:
    sdp = Sdp.parse(load("hikvision_answer_udp.sdp"))
    assert sdp.origin_user == "34020000001320000001"
    assert (sdp.connection_host, sdp.port) == ("192.168.1.64", 15060)
    assert not sdp.tcp and sdp.transport_name == "udp"
    assert sdp.direction is Direction.SENDONLY
    assert sdp.rtpmap(PS_PAYLOAD) == RtpMap(96, "PS", 90000)
    assert sdp.ssrc == 200000001
    assert sdp.media_description == ""  # an empty f= is kept as empty, not missing
    assert sdp.setup is None


def test_dahua_tcp_answer_lf_only_short_ssrc_and_streamprofile() -> None:
    sdp = Sdp.parse(load("dahua_answer_tcp_active_role.sdp"))
    assert sdp.tcp and sdp.protocol == "TCP/RTP/AVP"
    assert sdp.setup is Setup.ACTIVE and sdp.connection_new
    assert sdp.port == 0
    assert sdp.ssrc == 200000001  # y= written with 9 digits
    assert sdp.stream_number == 1  # a=streamprofile
    assert sdp.media_description == "v/2/4/25/1/4096a/1/8/1"
    assert (sdp.session_id, sdp.session_version) == ("2637", "2637")


def test_uniview_answer_case_audio_section_and_padded_ssrc() -> None:
    sdp = Sdp.parse(load("uniview_answer_tcp_passive_role.sdp"))
    assert sdp.direction is Direction.SENDONLY  # a=SendOnly
    assert sdp.rtpmaps == (RtpMap(96, "PS", 90000),)  # A=RTPMAP; the audio section's PCMA is not the video's
    assert sdp.port == 30004 and sdp.setup is Setup.PASSIVE
    assert sdp.stream_number == 0  # a=stream
    assert sdp.ssrc == 200000777  # y= with spaces around


def test_setup_on_a_udp_m_line_is_tolerated() -> None:
    sdp = Sdp.parse(load("vendor_setup_on_udp.sdp"))
    assert not sdp.tcp and sdp.setup is Setup.PASSIVE and sdp.ssrc == 200001234


def test_platform_offer_file_matches_what_make_offer_writes() -> None:
    offer = make_offer(
        origin_id="34150000002000000001",
        host="10.1.2.3",
        port=30000,
        transport=MediaTransport.TCP_PASSIVE,
        ssrc=500000001,
    )
    assert bytes(offer) == load("platform_offer_tcp_passive.sdp")
    assert Sdp.parse(bytes(offer)) == offer


@pytest.mark.parametrize(
    ("transport", "protocol", "setup"),
    [
        (MediaTransport.UDP, "RTP/AVP", None),
        (MediaTransport.TCP_PASSIVE, "TCP/RTP/AVP", Setup.PASSIVE),
        (MediaTransport.TCP_ACTIVE, "TCP/RTP/AVP", Setup.ACTIVE),
    ],
)
def test_offer_per_transport(transport: MediaTransport, protocol: str, setup: Setup | None) -> None:
    offer = make_offer(origin_id="1" * 20, host="127.0.0.1", port=4000, transport=transport, ssrc=1, stream_number=1)
    text = bytes(offer).decode()
    assert f"m=video 4000 {protocol} 96 97 98\r\n" in text
    assert "a=recvonly\r\n" in text and "a=streamnumber:1\r\n" in text
    assert "y=0000000001\r\n" in text
    assert offer.setup is setup
    assert ("a=connection:new" in text) is (setup is not None)
    assert Sdp.parse(bytes(offer)) == offer


@pytest.mark.parametrize(
    "name",
    [
        "hikvision_answer_udp.sdp",
        "dahua_answer_tcp_active_role.sdp",
        "uniview_answer_tcp_passive_role.sdp",
        "vendor_setup_on_udp.sdp",
    ],
)
def test_answers_round_trip(name: str) -> None:
    sdp = Sdp.parse(load(name))
    assert Sdp.parse(bytes(sdp)) == sdp


def test_unknown_attributes_are_kept_and_history_fields_read() -> None:
    text = (
        b"v=0\r\no=x 0 0 IN IP4 1.2.3.4\r\ns=Playback\r\nu=34020000001320000001:0\r\nc=IN IP4 1.2.3.4\r\n"
        b"t=1700000000 1700003600\r\nb=AS:4096\r\nm=video 9 RTP/AVP 96\r\na=downloadspeed:4\r\na=x-vendor:1\r\n"
    )
    sdp = Sdp.parse(text)
    assert sdp.session_name == "Playback" and sdp.uri == "34020000001320000001:0"
    assert (sdp.start, sdp.stop) == (1700000000, 1700003600)
    assert sdp.download_speed == 4 and sdp.extra == ("x-vendor:1",)
    assert sdp.ssrc is None and sdp.media_description is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("hikvision_answer_invalid.sdp", "bad port"),
        ("hikvision_answer_truncated.sdp", "no m=video"),
        ("ssrc_too_large_invalid.sdp", "32 bits"),
    ],
)
def test_invalid_files(name: str, message: str) -> None:
    with pytest.raises(SdpError, match=message):
        Sdp.parse(load(name))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x00\xff\xfe" * 20,
        b"o=x 0 0 IN IP4 1.2.3.4\r\nm=video 1 RTP/AVP 96\r\n",  # no v=
        b"v=0\r\nm=video 1 RTP/AVP 96\r\n",  # no address anywhere
        b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=video 1 RTP/AVP x\r\n",
        b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=video 1 RTP/AVP 96\r\ny=abc\r\n",
        b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=video 1 RTP/AVP 96\r\na=setup:sideways\r\n",
        b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=video 1 RTP/AVP 96\r\na=rtpmap:96\r\n",
        b"v=0\r\nc=IN IP4 1.1.1.1\r\nt=now\r\nm=video 1 RTP/AVP 96\r\n",
        b"v=0\r\nc=IN\r\nm=video 1 RTP/AVP 96\r\n",
        b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=video 70000 RTP/AVP 96\r\n",
        b"v=0\r\n" + b"a=x\r\n" * 5000,
    ],
)
def test_garbage_raises_sdp_error_only(data: bytes) -> None:
    with pytest.raises(SdpError):
        Sdp.parse(data)


def test_every_prefix_of_an_answer_parses_or_raises_sdp_error() -> None:
    data = load("uniview_answer_tcp_passive_role.sdp")
    for end in range(len(data)):
        with contextlib.suppress(SdpError):  # anything else fails the test
            Sdp.parse(data[:end])


def test_sdp_error_is_a_value_error_and_ssrc_format() -> None:
    assert issubclass(SdpError, ValueError)
    assert format_ssrc(200000001) == "0200000001"
    with pytest.raises(ValueError, match="range"):
        format_ssrc(2**32)
    with pytest.raises(SdpError, match="port"):
        Sdp(origin_user="", origin_host="h", connection_host="h", port=70000)
