"""Reading `gapbot.yaml` into validated settings, with errors that name the line.

A bad file must end in one line a person can act on: the file, the line, the field and what
is wrong. YAML is parsed twice: once for values, once as a node tree whose marks tell where
each key sits, so a pydantic error's location becomes `gapbot.yaml:12`.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from config.errors import ConfigError
from config.settings import Environment, GapbotConfig, Settings

DEFAULT_CONFIG_PATH = "gapbot.yaml"
CONFIG_ENV_VAR = "GAPBOT_CONFIG"


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    """The config file to read: the option, else GAPBOT_CONFIG, else `gapbot.yaml`."""
    if path:
        return Path(path)
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest node of `loc` that exists in the document."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    found = (key_node, value_node)
                    break
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def parse_config(text: str, source: str = DEFAULT_CONFIG_PATH) -> GapbotConfig:
    """Validate YAML text as a config; raise ConfigError with `source:line: field: problem`."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        msg = f"{where}: invalid YAML: {problem}"
        raise ConfigError(msg) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        msg = f"{source}:1: the file must be a mapping of settings (timezone, teams, ...)"
        raise ConfigError(msg)
    try:
        return GapbotConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(
            part
            for part in error["loc"]
            if not (isinstance(part, str) and part.startswith("function-"))
        )
        line = _line_of(root, loc)
        where = f"{source}:{line}" if line else source
        problem = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problem = "unknown key"
        elif error["type"] == "missing":
            problem = "required but missing"
        msg = f"{where}: {_format_loc(loc)}: {problem}"
        raise ConfigError(msg) from None


def load_config(path: str | os.PathLike[str] | None = None) -> GapbotConfig:
    """Read and validate the config file."""
    config_path = resolve_config_path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{config_path}: no such config file (run 'gapbot init' to write one)"
        raise ConfigError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{config_path}: cannot read the config file: {exc}"
        raise ConfigError(msg) from None
    return parse_config(text, str(config_path))


def load_environment() -> Environment:
    """Read the environment's settings."""
    try:
        return Environment()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "environment"
        msg = f"environment variable {name}: {error['msg']}"
        raise ConfigError(msg) from None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """The config file and the environment together."""
    return Settings(load_config(path), load_environment())
