"""Bootstrap settings: read once, explicitly, from the environment (prefix ``XUELIANG_``) or a ``.env`` file.

Operational settings that operators change at run time (the naming rule, ...) live in the database instead
(see ``xueliang.store.settings``). Nothing here is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CHAIN = r"^owner(,(bureau|security))*$"  # an approval chain starts with the owner unit's step


class Settings(BaseSettings):
    """Process-wide bootstrap settings."""

    model_config = SettingsConfigDict(env_prefix="XUELIANG_", env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("./xueliang-data"), description="Where the SQLite file, keys and reports live")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite at <data_dir>/xueliang.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP API and console listen on")
    http_port: int = Field(default=8080, ge=1, le=65535, description="Port the HTTP API and console listen on")
    language: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$", description="Default language of messages")
    log_level: str = Field(default="INFO", description="Python logging level")

    # GB/T 28181 signalling (the sip role); see docs/devices.zh-CN.md for what devices are told
    sip_enabled: bool = Field(default=True, description="Run the SIP endpoint in this process")
    sip_host: str = Field(default="0.0.0.0", description="SIP listen address, UDP and TCP")  # noqa: S104
    sip_port: int = Field(default=5060, ge=0, le=65535, description="SIP port, UDP and TCP (0: any free port)")
    sip_advertise_host: str | None = Field(
        default=None, description="Address put in our Via/Contact; default: the local address facing each device"
    )
    sip_id: str = Field(default="34150000002000000001", pattern=r"^\d{20}$", description="Platform SIP ID (type 200)")
    sip_domain: str | None = Field(default=None, description="SIP domain / digest realm; default: first 10 ID digits")
    sip_password: str | None = Field(
        default=None, description="Global device password; stored encrypted, a per-device password wins over it"
    )
    sip_accept_unknown_devices: bool = Field(
        default=False, description="Let devices absent from the archive register (demo: true)"
    )
    sip_min_expires: int = Field(default=60, ge=30, description="Shortest registration a device may ask for (s)")
    sip_max_expires: int = Field(default=86400, ge=60, description="Longest registration granted (s)")
    sip_keepalive_interval: int = Field(default=60, ge=5, description="Keepalive interval assumed for devices (s)")
    sip_keepalive_misses: int = Field(default=3, ge=1, description="Missed keepalives before a device is offline")
    sip_catalog_concurrency: int = Field(default=32, ge=1, description="Catalog queries in flight at once")
    sip_catalog_rate: float = Field(default=100.0, gt=0, description="Catalog queries started per second, at most")
    sip_catalog_timeout: float = Field(default=30.0, gt=0, description="Seconds without a fragment: catalog partial")
    sip_flood_rate: float = Field(default=1000.0, gt=0, description="Messages per second one address:port may send")
    sip_invite_timeout: float = Field(default=10.0, gt=0, description="Seconds a device has to answer an INVITE")

    # Live video (the media role); see docs/live-video.en.md
    media_enabled: bool = Field(default=True, description="Run the built-in media node in this process")
    media_id: str = Field(default="media-1", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="This media node's name")
    media_rtp_host: str = Field(default="0.0.0.0", description="Address RTP receivers bind to")  # noqa: S104
    media_rtp_advertise_host: str | None = Field(
        default=None, description="Address put in SDP offers; default: the address facing each device"
    )
    media_rtp_port_min: int = Field(default=30000, ge=1024, le=65535, description="First port of the RTP range")
    media_rtp_port_max: int = Field(default=30999, ge=1024, le=65535, description="Last port of the RTP range")
    media_rtp_mux_port: int = Field(
        default=30000, ge=0, le=65535, description="Shared UDP port keyed by SSRC (0: any free port; in the range)"
    )
    media_public_url: str | None = Field(
        default=None,
        description="Base URL viewers reach this node's outputs at (http://host:port); default: the API's address",
    )
    media_linger: float = Field(default=30.0, ge=0, description="Seconds a stream stays up after its last viewer")
    media_no_media_timeout: float = Field(default=8.0, gt=0, description="Seconds to wait for the first media")
    media_gop_cache_bytes: int = Field(default=8 << 20, ge=1 << 20, description="Per-stream GOP cache limit")
    media_viewer_queue_bytes: int = Field(
        default=4 << 20, ge=1 << 18, description="Bytes a slow viewer may fall behind before it skips to a keyframe"
    )
    media_max_transcodes: int = Field(default=2, ge=0, description="H.265 to H.264 transcodes at once on this node")
    media_max_masked: int = Field(
        default=2, ge=0, description="Desensitised (masked) streams at once on this node; about a core each at 720p"
    )
    media_device_max_streams: int = Field(
        default=4, ge=1, description="Concurrent live streams per device unless the device sets its own"
    )
    play_token_ttl: int = Field(default=300, ge=10, le=86400, description="Lifetime of a play token (s)")
    unit_max_streams: int = Field(
        default=16, ge=0, description="Viewing sessions one unit may hold at once on this node (0: no limit)"
    )

    # Accounts, sessions, sharing and audit (issue 5); see docs/sharing.en.md
    platform_unit: str = Field(
        default="PLATFORM", min_length=1, max_length=64, description="Unit code of the platform's own unit"
    )
    bureau_unit: str = Field(
        default="BUREAU", min_length=1, max_length=64, description="Unit code of the data bureau (数管局) approving"
    )
    password_min_length: int = Field(default=12, ge=8, le=128, description="Shortest password accepted")
    password_min_classes: int = Field(
        default=3, ge=1, le=4, description="Character classes required (lower, upper, digit, other)"
    )
    login_max_failures: int = Field(default=5, ge=1, description="Bad passwords in a row before the account locks")
    login_lockout_minutes: int = Field(default=15, ge=1, description="How long a locked account stays locked")
    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id iterations")
    argon2_memory_kib: int = Field(default=65536, ge=8, description="argon2id memory (KiB)")
    argon2_parallelism: int = Field(default=4, ge=1, description="argon2id lanes")
    access_token_ttl: int = Field(default=900, ge=30, le=86400, description="Lifetime of an access token (s)")
    refresh_token_ttl: int = Field(default=86400, ge=60, description="Lifetime of one refresh token (s)")
    session_max_age: int = Field(default=7 * 86400, ge=60, description="Longest a token login lasts by refreshing")
    console_idle_timeout: int = Field(default=1800, ge=60, description="Console session ends after this idle (s)")
    console_max_age: int = Field(default=43200, ge=60, description="Console session ends after this at most (s)")
    cookie_secure: bool | None = Field(
        default=None, description="Secure flag of the session cookie; default: set when the request is HTTPS"
    )
    approval_chain_low: str = Field(
        default="owner", pattern=CHAIN, description="Approval steps for low-sensitivity cameras (owner,bureau,security)"
    )
    approval_chain_normal: str = Field(default="owner,bureau", pattern=CHAIN, description="Steps for normal ones")
    approval_chain_high: str = Field(default="owner,bureau,security", pattern=CHAIN, description="Steps for high ones")
    audit_hash: str = Field(default="sha256", pattern=r"^(sha256|sm3)$", description="Hash chaining audit records")
    redis_url: str | None = Field(
        default=None,
        description="Redis for grant revocations across processes (redis://host:6379/0); default: in-process",
    )

    def resolved_sip_domain(self) -> str:
        """The SIP domain (and digest realm): configured, or the first 10 digits of the platform ID."""
        return self.sip_domain or self.sip_id[:10]

    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'xueliang.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides (from CLI flags) win over the environment."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
