"""The settings reference, rendered from the schema so the README cannot drift from the code.

`python -m config.docs` prints the Markdown table that the README's configuration section
holds; a test fails when they differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config.settings import Environment, GapbotConfig, Objective, Team

_LIST_MODELS: dict[str, type[BaseModel]] = {"teams": Team, "objectives": Objective}


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return ""
    elif info.default is PydanticUndefined:
        return "(required)"
    else:
        value = info.default
    if hasattr(value, "get_secret_value"):
        return "(unset)"
    if value is None:
        return "(evaluated default)"
    return json.dumps(value, ensure_ascii=False)


def _nested_model(info: FieldInfo) -> type[BaseModel] | None:
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def iter_settings(
    model: type[BaseModel] = GapbotConfig, prefix: str = ""
) -> Iterator[tuple[str, FieldInfo]]:
    """Every leaf setting as (dotted name, field), depth first, in schema order."""
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        nested = _nested_model(info)
        if nested is not None:
            yield from iter_settings(nested, f"{dotted}.")
        elif name in _LIST_MODELS:
            yield dotted, info
            yield from iter_settings(_LIST_MODELS[name], f"{dotted}[].")
        else:
            yield dotted, info


def settings_table() -> str:
    """The Markdown reference of the file's settings and the environment variables."""
    lines = ["| setting | default | what it does |", "| --- | --- | --- |"]
    for name, info in iter_settings():
        description = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | `{_default(info)}` | {description} |")
    lines += ["", "| environment variable | default | what it does |", "| --- | --- | --- |"]
    for name, info in Environment.model_fields.items():
        description = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{name.upper()}` | `{_default(info)}` | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
