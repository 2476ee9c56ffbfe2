"""A loopback stand-in for the Telegram Bot API, for tests: the real python-telegram-bot
client talks real HTTP to it, tests feed it updates and assert on the calls it recorded.

    api = BotApiStandin().start()
    api.register_bot("123:TEST", username="htx_test_bot")
    # point the bot at api.base_url (TELEGRAM_API_BASE_URL), run it, then:
    sent = api.send_text("123:TEST", chat_id=42, user_id=42, text="Ai phụ trách…?")
    reply = api.wait_for("sendMessage", token="123:TEST", chat_id=42)

It runs on its own thread and event loop, so tests stay synchronous. It implements what
the bot uses, like Telegram does it: getMe, getUpdates (long poll), sendMessage,
editMessageText, editMessageReplyMarkup, answerCallbackQuery, sendChatAction,
setMyCommands/getMyCommands, setWebhook/deleteWebhook (delivering updates to the
webhook, with its secret, once one is set), getWebhookInfo. Any other method answers 404.
`fail_next` makes one call answer with a Bot API error, as Telegram does on a bad request.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Callable

import aiohttp
from aiohttp import web

_INT_PARAMS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "message_thread_id",
               "reply_to_message_id", "max_connections", "cache_time"}
_JSON_PARAMS = {"reply_markup", "reply_parameters", "commands", "entities", "link_preview_options",
                "allowed_updates", "scope"}
_BOOL_PARAMS = {"show_alert", "disable_notification", "drop_pending_updates", "protect_content",
                "allow_sending_without_reply", "disable_web_page_preview"}
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,}")


@dataclass
class Call:
    token: str
    method: str
    params: dict[str, Any]
    result: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int | None:
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))


class BotApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def html_to_text(markup: str) -> str:
    """What Telegram shows for an HTML message: tags removed, entities decoded.
    Raises ValueError on unbalanced tags, as Telegram refuses to parse them."""
    parser = _TagChecker()
    parser.feed(markup)
    parser.close()
    if parser.stack:
        raise ValueError(f"unclosed tags {parser.stack}")
    return "".join(parser.text)


class _TagChecker(HTMLParser):
    ALLOWED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "blockquote",
               "tg-spoiler", "span", "tg-emoji"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in self.ALLOWED:
            raise ValueError(f"Unsupported start tag \"{tag}\"")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise ValueError(f"Unmatched end tag \"{tag}\"")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


class BotApiStandin:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._cond = threading.Condition()
        self._bots: dict[str, dict] = {}
        self._updates: dict[str, list[dict]] = {}
        self._update_events: dict[str, asyncio.Event] = {}
        self._webhooks: dict[str, tuple[str, str | None]] = {}
        self._failures: list[tuple[str, Callable[[dict], bool], int, str]] = []
        self._chat_types: dict[int, str] = {}
        self._commands: dict[str, list] = {}
        self._next_update_id = 1
        self._next_message_id = 1000
        self._next_callback_id = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "BotApiStandin":
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("*", "/bot{token}/{method}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]
            self.base_url = f"http://127.0.0.1:{port}"
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="botapi-standin", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def register_bot(self, token: str, username: str) -> dict:
        bot_id = int(token.split(":", 1)[0])
        self._bots[token] = {"id": bot_id, "is_bot": True, "first_name": "HTX", "username": username,
                             "can_join_groups": True, "can_read_all_group_messages": False,
                             "supports_inline_queries": False}
        return self._bots[token]

    def bot_user(self, token: str) -> dict:
        return self._bots[token]

    # ------------------------------------------------------------------ feeding updates

    def push_update(self, token: str, update: dict) -> dict:
        with self._cond:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        self._call_in_loop(self._enqueue, token, update)
        return update

    def send_text(self, token: str, *, chat_id: int, user_id: int, text: str, chat_type: str = "private",
                  reply_to: dict | None = None, first_name: str = "Cán bộ") -> dict:
        """A user's text message as Telegram delivers it, entities (commands, mentions) included."""
        self._chat_types[chat_id] = chat_type
        with self._cond:
            message_id = self._next_message_id
            self._next_message_id += 1
        chat = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Tổ công tác HTX"
        message = {
            "message_id": message_id, "date": int(time.time()), "chat": chat, "text": text,
            "from": {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "vi"},
        }
        entities = self._entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self.push_update(token, {"message": message})
        return message

    def press(self, token: str, *, message: dict, data: str, user_id: int) -> str:
        """A user pressing an inline button under `message` (a result the bot got from sendMessage)."""
        with self._cond:
            query_id = str(self._next_callback_id)
            self._next_callback_id += 1
        self.push_update(token, {"callback_query": {
            "id": query_id, "chat_instance": str(message["chat"]["id"]), "data": data, "message": message,
            "from": {"id": user_id, "is_bot": False, "first_name": "Cán bộ"},
        }})
        return query_id

    @staticmethod
    def _entities(text: str) -> list[dict]:
        entities = []
        command = _COMMAND.match(text)
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
        for mention in _MENTION.finditer(text):
            entities.append({"type": "mention", "offset": utf16_len(text[: mention.start()]),
                             "length": utf16_len(mention.group())})
        return entities

    # ------------------------------------------------------------------ faults

    def fail_next(self, method: str, *, when: Callable[[dict], bool] = lambda params: True, code: int = 400,
                  description: str = "Bad Request: can't parse entities") -> None:
        with self._cond:
            self._failures.append((method, when, code, description))

    # ------------------------------------------------------------------ assertions

    def mark(self) -> int:
        with self._cond:
            return len(self.calls)

    def find(self, method: str | None = None, *, token: str | None = None, since: int = 0,
             where: Callable[[Call], bool] = lambda call: True, **params: Any) -> list[Call]:
        with self._cond:
            calls = list(self.calls[since:])
        return [
            c for c in calls
            if (method is None or c.method == method) and (token is None or c.token == token)
            and all(c.params.get(k) == v for k, v in params.items()) and where(c)
        ]

    def wait_for(self, method: str, *, count: int = 1, timeout: float = 30, **criteria: Any) -> list[Call]:
        """Block until `count` matching calls were recorded; return them (all matching, in order)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.find(method, **criteria)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = [(c.method, c.params.get("chat_id"), c.text[:60]) for c in self.calls[-15:]]
                    raise AssertionError(f"no {count}× {method} {criteria} within {timeout}s; recent calls: {recent}")
                self._cond.wait(min(remaining, 0.5))

    # ------------------------------------------------------------------ the API

    def _call_in_loop(self, fn: Callable, *args: Any) -> None:
        assert self._loop is not None, "start() the stand-in first"
        future = asyncio.run_coroutine_threadsafe(fn(*args), self._loop)
        future.result(30)

    async def _enqueue(self, token: str, update: dict) -> None:
        webhook = self._webhooks.get(token)
        if webhook:
            await self._deliver(webhook, update)
            return
        self._updates.setdefault(token, []).append(update)
        self._event(token).set()

    @staticmethod
    async def _deliver(webhook: tuple[str, str | None], update: dict, patience: float = 10) -> None:
        # Like Telegram, keep trying while the bot's server is not listening yet: a bot
        # sets its webhook before it starts serving.
        url, secret = webhook
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        deadline = time.monotonic() + patience
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.post(url, json=update, headers=headers) as response:
                        if response.status != 200:
                            raise BotApiError(response.status, f"webhook answered {response.status}")
                        return
                except aiohttp.ClientConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

    def _event(self, token: str) -> asyncio.Event:
        return self._update_events.setdefault(token, asyncio.Event())

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw = await request.json()
        else:
            raw = dict(await request.post())
            raw.update(request.query)
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str):
                if key in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
                    value = int(value)
                elif key in _JSON_PARAMS:
                    value = json.loads(value)
                elif key in _BOOL_PARAMS:
                    value = value == "true"
            params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await self._params(request)
        call = Call(token, method, params)
        try:
            if token not in self._bots:
                raise BotApiError(401, "Unauthorized")
            self._maybe_fail(method, params)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise BotApiError(404, "Not Found: method not found")
            call.result = await handler(token, params)
            body = {"ok": True, "result": call.result}
            status = 200
        except BotApiError as exc:
            call.result = exc
            body = {"ok": False, "error_code": exc.code, "description": exc.description}
            status = exc.code
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        return web.json_response(body, status=status)

    def _maybe_fail(self, method: str, params: dict) -> None:
        with self._cond:
            for i, (name, when, code, description) in enumerate(self._failures):
                if name == method and when(params):
                    del self._failures[i]
                    raise BotApiError(code, description)

    async def _api_getMe(self, token: str, params: dict) -> dict:
        return self._bots[token]

    async def _api_getUpdates(self, token: str, params: dict) -> list[dict]:
        if token in self._webhooks:
            raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = params.get("offset", 0)
        queue = self._updates.setdefault(token, [])
        # Asking from `offset` confirms every earlier update, as with Telegram.
        queue[:] = [u for u in queue if u["update_id"] >= offset]
        if not queue:
            event = self._event(token)
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), timeout=float(params.get("timeout", 0)))
            except asyncio.TimeoutError:
                pass
        limit = params.get("limit", 100)
        return [u for u in queue if u["update_id"] >= offset][:limit]

    def _message(self, token: str, params: dict, *, message_id: int | None = None) -> dict:
        text = params.get("text", "")
        if len(text) == 0:
            raise BotApiError(400, "Bad Request: message text is empty")
        if params.get("parse_mode") == "HTML":
            try:
                shown = html_to_text(text)
            except ValueError as exc:
                raise BotApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        else:
            shown = text
        if utf16_len(shown) > 4096:
            raise BotApiError(400, "Bad Request: message is too long")
        if message_id is None:
            with self._cond:
                message_id = self._next_message_id
                self._next_message_id += 1
        chat_id = params["chat_id"]
        message = {
            "message_id": message_id, "date": int(time.time()), "text": shown,
            "chat": {"id": chat_id, "type": self._chat_types.get(chat_id, "private")},
            "from": {k: self._bots[token][k] for k in ("id", "is_bot", "first_name", "username")},
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _api_sendMessage(self, token: str, params: dict) -> dict:
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                    raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return self._message(token, params)

    async def _api_editMessageText(self, token: str, params: dict) -> dict:
        return self._message(token, params, message_id=params["message_id"])

    async def _api_editMessageReplyMarkup(self, token: str, params: dict) -> dict | bool:
        return True

    async def _api_answerCallbackQuery(self, token: str, params: dict) -> bool:
        if len(params.get("text", "")) > 200:
            raise BotApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    async def _api_sendChatAction(self, token: str, params: dict) -> bool:
        return True

    async def _api_setMyCommands(self, token: str, params: dict) -> bool:
        self._commands[token] = params.get("commands", [])
        return True

    async def _api_getMyCommands(self, token: str, params: dict) -> list:
        return self._commands.get(token, [])

    async def _api_deleteWebhook(self, token: str, params: dict) -> bool:
        self._webhooks.pop(token, None)
        return True

    async def _api_setWebhook(self, token: str, params: dict) -> bool:
        self._webhooks[token] = (params["url"], params.get("secret_token"))
        return True

    async def _api_getWebhookInfo(self, token: str, params: dict) -> dict:
        url = self._webhooks.get(token, ("", None))[0]
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

