"""What a command needs: the settings and the store, loaded once and only when asked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from config.loader import load_environment, load_settings, resolve_config_path
from config.settings import Environment, Settings, TeamMap
from store.db import Store


@dataclass
class AppContext:
    """Per-invocation state shared by the commands."""

    config_path: Path
    _settings: Settings | None = field(default=None, init=False)
    _store: Store | None = field(default=None, init=False)

    @classmethod
    def create(cls, config: str | None) -> AppContext:
        """A context for the config file named by the option, GAPBOT_CONFIG or the default."""
        return cls(config_path=resolve_config_path(config))

    @property
    def settings(self) -> Settings:
        """The validated config file and environment (ConfigError if invalid)."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def optional_team_map(self) -> TeamMap | None:
        """The team map when a config file exists; commands like import work without one."""
        if self.config_path.exists():
            return TeamMap(self.settings.config.teams)
        return None

    @property
    def store(self) -> Store:
        """The store at DATABASE_URL, migrated to the newest schema."""
        if self._store is None:
            database_url = (
                self._settings.database_url
                if self._settings is not None
                else load_environment().database_url
            )
            self._store = Store(database_url)
        return self._store

    @property
    def environment(self) -> Environment:
        """The environment's settings."""
        return self.settings.env if self._settings is not None else load_environment()

    def close(self) -> None:
        """Release the store's connections."""
        if self._store is not None:
            self._store.dispose()
