"""Repository of operational settings (key -> JSON value), edited by operators at run time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xueliang.store.models import Setting, utcnow

NAMING_RULE = "naming_rule"


class SettingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> Any | None:
        return self.session.scalar(select(Setting.value).where(Setting.key == key))

    def put(self, key: str, value: Any) -> None:
        setting = self.session.get(Setting, key)
        if setting is None:
            self.session.add(Setting(key=key, value=value, updated_at=utcnow()))
        else:
            setting.value = value
            setting.updated_at = utcnow()
        self.session.flush()
