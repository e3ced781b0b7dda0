"""The simulated device's SDP answer, its video options and their validation (the dialogs themselves run over
real sockets in tests/integration/signaling/test_invite.py)."""

from __future__ import annotations

import pytest
import typer

from xueliang.domain.streams import MediaTransport
from xueliang.protocol.es import Codec
from xueliang.protocol.sdp import Direction, Sdp, Setup, make_offer
from xueliang.sim.cli import parse_size, parse_video
from xueliang.sim.config import SimConfig
from xueliang.sim.invite import answer_for

PLATFORM = "34150000002000000001"
CHANNEL = "34150200001310000001"


@pytest.mark.parametrize(
    ("transport", "answered"),
    [
        (MediaTransport.UDP, None),
        (MediaTransport.TCP_PASSIVE, Setup.ACTIVE),
        (MediaTransport.TCP_ACTIVE, Setup.PASSIVE),
    ],
)
def test_answer_mirrors_the_setup_role_and_echoes_the_ssrc(transport: MediaTransport, answered: Setup | None) -> None:
    offer = make_offer(origin_id=PLATFORM, host="10.0.0.1", port=30000, transport=transport, ssrc=150000042)
    answer = Sdp.parse(bytes(answer_for(offer, origin_id=CHANNEL, host="10.0.0.9", port=15060)))
    assert answer.setup is answered and answer.tcp is offer.tcp
    assert answer.ssrc == 150000042 and answer.direction is Direction.SENDONLY
    assert (answer.connection_host, answer.port, answer.origin_user) == ("10.0.0.9", 15060, CHANNEL)
    assert [str(item) for item in answer.rtpmaps] == ["96 PS/90000"]
    assert answer.media_description == ""


def test_video_options() -> None:
    assert parse_video("H265") is Codec.H265 and parse_video("none") is None
    assert parse_size("320x240") == (320, 240)
    for bad in ("vp9", ""):
        with pytest.raises(typer.BadParameter):
            parse_video(bad)
    for bad in ("320", "axb", "320x"):
        with pytest.raises(typer.BadParameter):
            parse_size(bad)


def test_config_defaults_and_validation() -> None:
    config = SimConfig(server_host="127.0.0.1", server_id=PLATFORM)
    assert (config.video, config.video_size, config.max_streams, config.refuse_invite) == (
        Codec.H264,
        (640, 360),
        4,
        None,
    )
    assert SimConfig(server_host="h", server_id=PLATFORM, video="h265").video is Codec.H265  # type: ignore[arg-type]
    for fields, message in (
        ({"video": Codec.AAC}, "video must be"),
        ({"video_size": (641, 360)}, "video size"),
        ({"max_streams": -1}, "max_streams"),
        ({"refuse_invite": 200}, "refuse_invite"),
    ):
        with pytest.raises(ValueError, match=message):
            SimConfig(server_host="127.0.0.1", server_id=PLATFORM, **fields)  # type: ignore[arg-type]
