"""The environment variables yiju reads, decided once: each one's name, type and default.

Library code reads `settings()` instead of `os.environ`; the CLIs' options name the same variables through
`env_name` (click reads them while parsing, so a flag beats its variable, which beats the default). An empty
variable counts as unset, as `os.environ.get(NAME) or default` did. `settings()` reads the environment when
called (a fresh, cheap object), so a process that changes its environment, as the tests do, is seen.

kb is the package every other one may import, so the variables of all four (kb, retriever, chat, finetune)
are listed here; docs/architecture.md says who reads which.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///var/kb.sqlite"
DEFAULT_INDEX_DIR = "var/index"  # where every command looks for the index unless told otherwise
DEFAULT_TUNED_DIR = "var/models/tuned"  # where `finetune recipe` registers the tuned model


class Settings(BaseSettings):
    """One reading of the environment. Every value is a string: one malformed variable must not stop the
    others being read, so whoever uses a number (click for the options, `_threads_setting`) checks it."""

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, extra="ignore", frozen=True)

    # kb, retriever, chat, finetune
    db_url: str | None = Field(None, validation_alias="KB_DB_URL")  # unset: an index's own KB, else DEFAULT_DB_URL
    index: str = Field(DEFAULT_INDEX_DIR, validation_alias="YIJU_INDEX")
    # the answer log (chat ask, ui, serve)
    log_db: str | None = Field(None, validation_alias="YIJU_LOG_DB")
    log_retention_days: str | None = Field(None, validation_alias="YIJU_LOG_RETENTION_DAYS")
    # who may reach chat ui / chat serve
    ui_auth: str | None = Field(None, validation_alias="YIJU_UI_AUTH")
    api_key: str | None = Field(None, validation_alias="YIJU_API_KEY")
    allowed_hosts: str | None = Field(None, validation_alias="YIJU_ALLOWED_HOSTS")
    # generators
    llama_threads: str | None = Field(None, validation_alias="YIJU_LLAMA_THREADS")  # checked where it is used
    openai_api_key: str | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_model: str | None = Field(None, validation_alias="YIJU_OPENAI_MODEL")
    tuned_model: str = Field(DEFAULT_TUNED_DIR, validation_alias="YIJU_TUNED_MODEL")
    # other programs' conventions that yiju follows
    xdg_cache_home: str | None = Field(None, validation_alias="XDG_CACHE_HOME")
    local_rank: str = Field("0", validation_alias="LOCAL_RANK")  # set by torchrun for each process


def settings() -> Settings:
    """The environment as it is now."""
    return Settings()


def env_name(field: str) -> str:
    """The variable behind a setting (`env_name("index")` -> "YIJU_INDEX"), for an option's `envvar`."""
    return Settings.model_fields[field].validation_alias
