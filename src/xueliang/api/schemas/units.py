"""Unit and settings models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UnitOut(BaseModel):
    code: str
    name: str
    kind: str = Field(description="department | enterprise | other")
    division_code: str | None
    auto_created: bool = Field(description="created by an import that named it")


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="department", pattern=r"^(department|enterprise|other)$")
    division_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")


class NamingRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(
        min_length=1,
        max_length=200,
        description="placeholders {division}, {address}, {direction} and literal text",
        examples=["{division}{address}{direction}"],
    )
    enabled: bool = True


class NamingRuleOut(NamingRuleIn):
    description_zh: str
    description_en: str
