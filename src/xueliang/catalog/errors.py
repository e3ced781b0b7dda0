"""Errors of the catalog service, each with a message in Chinese and English a person can act on.

::

    CatalogError
      +-- InvalidQueryError        a filter, sort or cursor value the service cannot use (HTTP 422, CLI exit 2)
      +-- InvalidOptionsError      import options that cannot work: an unknown --unit (HTTP 422, CLI exit 2)
      +-- CameraNotFoundError      no camera with this platform ID (HTTP 404)
      +-- CameraRejectedError      the archive validator found errors in human input; carries the findings (HTTP 422)

The API translates them into ``ApiError``; the CLI into exit codes. Nothing here knows HTTP.
"""

from __future__ import annotations

from typing import Any

from xueliang.domain.archive import Finding


class CatalogError(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en

    def __reduce__(self) -> tuple[Any, ...]:  # raised in worker processes: must survive pickling
        return (self.__class__, (self.zh, self.en))


class InvalidQueryError(CatalogError):
    def __init__(self, parameter: str, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.parameter = parameter

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.parameter, self.zh, self.en))


class InvalidOptionsError(CatalogError):
    pass


class CameraNotFoundError(CatalogError):
    def __init__(self, platform_id: str) -> None:
        super().__init__(f"没有设备编码为 {platform_id} 的摄像机", f"no camera with the ID {platform_id}")
        self.platform_id = platform_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.platform_id,))


class CameraRejectedError(CatalogError):
    def __init__(self, platform_id: str, findings: list[Finding]) -> None:
        errors = [f for f in findings if f.is_error]
        super().__init__(
            f"摄像机 {platform_id} 的档案有 {len(errors)} 处错误，未保存：" + "；".join(f.message_zh for f in errors),
            f"the archive of camera {platform_id} has {len(errors)} error(s) and was not saved: "
            + "; ".join(f.message_en for f in errors),
        )
        self.platform_id = platform_id
        self.findings = findings

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.platform_id, self.findings))
