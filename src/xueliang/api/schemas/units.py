"""Unit and settings models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UnitOut(BaseModel):
    code: str
    name: str
    kind: str = Field(description="department | enterprise | other")
    division_code: str | None
    auto_created: bool = Field(description="created by an import that named it")


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
