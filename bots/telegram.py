"""The Telegram bot for officers (`htx bot`): any message is a question, answered with the
clause it comes from; commands /start, /help, /nguon, /nhiemvu.

Laid out like python-telegram-bot's rules bot: `build_application` wires everything; the
handlers are grouped by concern in `telegram_handlers` (gate, questions, buttons, errors)
and `telegram_commands`; what they share is in `telegram_state`; what the bot shows in
`telegram_format`, made valid and split by `telegram_html`; the button data scheme in
`telegram_callbacks`; access rules in `telegram_access`; votes in `bots.feedback`.

    from bots.telegram import build_application, run_bot
    app = build_application(Assistant.open(), settings)
    run_bot(app, settings)          # long polling, or a webhook when HTX_TELEGRAM_WEBHOOK_URL is set

The token comes from TELEGRAM_BOT_TOKEN and is never logged; TELEGRAM_API_BASE_URL points
the bot at a self-hosted Bot API server (the tests point it at a loopback stand-in).
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, Defaults, MessageHandler,
    TypeHandler, filters,
)

from index.settings import Settings

from . import telegram_commands as commands
from . import telegram_handlers as h
from .feedback import FeedbackStore
from .telegram_state import BotState

log = logging.getLogger(__name__)

# Registered with set_my_commands at start-up, so Telegram's "/" menu lists them.
COMMANDS = [
    BotCommand("start", "Giới thiệu và câu hỏi mẫu"),
    BotCommand("help", "Hướng dẫn sử dụng"),
    BotCommand("nguon", "Các văn bản bot đang nắm"),
    BotCommand("nhiemvu", "Nhiệm vụ của một cơ quan: /nhiemvu <cơ quan>"),
    BotCommand("moi", "Câu hỏi mới: bỏ ngữ cảnh các câu trước"),
]
# A 429 from Telegram is retried this many times after the wait it asks for.
FLOOD_RETRIES = 3
# Attempts at the first getMe before giving up (network or Bot API server still starting).
BOOTSTRAP_RETRIES = 5


class MissingToken(RuntimeError):
    pass


def bot_token(settings: Settings) -> str:
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if not token.strip():
        raise MissingToken("TELEGRAM_BOT_TOKEN is not set (the token @BotFather gave the bot).")
    return token.strip()


def build_application(assistant: Any, settings: Settings, *, feedback: FeedbackStore | None = None) -> Application:
    """The bot, wired and ready for `run_bot` (or initialize/start in a custom loop)."""
    token = bot_token(settings)
    api_base = settings.telegram_api_base_url.rstrip("/")
    # httpx logs every request URL at INFO, and a Bot API URL contains the token.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_base}/bot")
        .base_file_url(f"{api_base}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .concurrent_updates(True)
        .rate_limiter(AIORateLimiter(max_retries=FLOOD_RETRIES))
        .post_init(post_init)
        .build()
    )
    app.bot_data["htx"] = BotState.create(assistant, settings, feedback)
    add_handlers(app)
    return app


def add_handlers(app: Application) -> None:
    app.add_handler(TypeHandler(Update, h.gate), group=-1)
    app.add_handler(CommandHandler("start", commands.start))
    app.add_handler(CommandHandler("help", commands.help_command))
    app.add_handler(CommandHandler("nguon", commands.sources))
    app.add_handler(CommandHandler("nhiemvu", commands.tasks_command))
    app.add_handler(CommandHandler("moi", commands.new_conversation))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE, h.question))
    app.add_handler(CallbackQueryHandler(h.button))
    app.add_error_handler(h.on_error)


async def post_init(app: Application) -> None:
    await app.bot.set_my_commands(COMMANDS)
    log.info("Telegram bot @%s ready", app.bot.username)


def webhook_secret(settings: Settings) -> str:
    """What Telegram must send in X-Telegram-Bot-Api-Secret-Token; derived from the token
    when not configured, so a webhook is never left open to anyone who finds its URL."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret.get_secret_value()
    return hashlib.sha256(b"htx-webhook:" + bot_token(settings).encode()).hexdigest()[:48]


def run_bot(app: Application, settings: Settings, *, poll_timeout: float = 10, **run_options: Any) -> None:
    """Serve until stopped: long polling, or a webhook at HTX_TELEGRAM_WEBHOOK_URL.
    `run_options` go to python-telegram-bot (tests pass stop_signals=None)."""
    if settings.telegram_webhook_url:
        url = settings.telegram_webhook_url
        # Not the URL: operators often put the token in its path.
        log.info("Telegram bot: webhook mode, listening on %s:%s", settings.telegram_webhook_listen,
                 settings.telegram_webhook_port)
        app.run_webhook(
            listen=settings.telegram_webhook_listen,
            port=settings.telegram_webhook_port,
            url_path=urlsplit(url).path.lstrip("/"),
            webhook_url=url,
            secret_token=webhook_secret(settings),
            allowed_updates=Update.ALL_TYPES,
            bootstrap_retries=BOOTSTRAP_RETRIES,
            **run_options,
        )
    else:
        log.info("Telegram bot: long polling")
        app.run_polling(allowed_updates=Update.ALL_TYPES, timeout=poll_timeout,
                        bootstrap_retries=BOOTSTRAP_RETRIES, **run_options)


class RedactToken(logging.Filter):
    """Defence in depth: whatever a library logs, the token is replaced before output."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token and self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redactor = RedactToken(bot_token(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
