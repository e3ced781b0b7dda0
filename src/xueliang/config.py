"""Bootstrap settings: read once, explicitly, from the environment (prefix ``XUELIANG_``) or a ``.env`` file.

Operational settings that operators change at run time (the naming rule, ...) live in the database instead
(see ``xueliang.store.settings``). Nothing here is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'xueliang.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides (from CLI flags) win over the environment."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
