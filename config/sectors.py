"""The sector definitions, read from the YAML file named by `Settings.sectors_file`."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from config.errors import ValidationFailed

SECTOR_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"


class SectorConfigError(ValueError):
    """The sectors file is missing or wrong; the message names the file and the field."""


class SectorDefinition(BaseModel):
    name: str = Field(pattern=SECTOR_NAME_PATTERN)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    fallback: bool = False
    # Set only where an unreviewed answer is acceptable: a suggestion at least this similar
    # to a human-validated answer goes to the customer without waiting for an operator.
    auto_send_threshold: float | None = Field(default=None, gt=0, le=1)


class SectorCatalog(BaseModel):
    sectors: list[SectorDefinition] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> SectorCatalog:
        names = [s.name for s in self.sectors]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"sector names repeat: {', '.join(duplicated)}")
        fallbacks = [s.name for s in self.sectors if s.fallback]
        if len(fallbacks) > 1:
            raise ValueError(f"only one sector may be the fallback, found {fallbacks}")
        return self

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sectors]

    @property
    def fallback(self) -> str:
        """The sector for messages nothing else fits: the marked one, else the last."""
        for sector in self.sectors:
            if sector.fallback:
                return sector.name
        return self.sectors[-1].name

    def get(self, name: str) -> SectorDefinition | None:
        return next((s for s in self.sectors if s.name == name), None)

    def check(self, name: str, field: str = "sector") -> None:
        """Refuse a sector this catalog does not hold, naming `field` and the known ones."""
        if self.get(name) is None:
            raise ValidationFailed.on(
                field, f"unknown sector {name!r}; known: {', '.join(self.names)}"
            )


def load_sectors(path: Path) -> SectorCatalog:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SectorConfigError(f"sectors file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise SectorConfigError(f"sectors file {path} is not valid YAML: {exc}") from exc
    try:
        return SectorCatalog.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SectorConfigError(f"sectors file {path}: {problems}") from exc
