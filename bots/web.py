"""The web endpoint (`htx serve`): a JSON API over `assistant.api.Assistant` and a page for
staff who check answers against the cited clauses.

    from bots.web import create_app
    app = create_app(Assistant.open())      # or create_app(settings): opens the index itself

Endpoints (OpenAPI at /docs): `POST /ask`, `GET /health`, `GET /documents`,
`GET /documents/{doc_id}` (HTML for browsers, JSON otherwise; `/documents/{doc_id}.json`
always JSON), `GET /tasks`, `GET /metrics`, and the page at `GET /`.

The app comes up even when there is no index yet: every request that needs one retries
`Assistant.open` (at most every few seconds) and answers 503 until `htx ingest` has made one;
afterwards a finished ingest is picked up by `reload_if_changed` without a restart.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import string
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.models import Answer, Filters, QuestionError
from index.models import Document, DocumentMeta, anchor_for, clause_label
from index.settings import Settings, get_settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

# A stat of the index pointer per request would be cheap already; once a second is plenty.
RELOAD_CHECK_SECONDS = 1.0
# Opening a missing index fails fast, but there is no point retrying it on every request.
OPEN_RETRY_SECONDS = 2.0
SESSION_COOKIE = "htx_session"
# Pages only load what this server serves: the machines may be offline, and data never runs as code.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_OPEN_PATHS = ("/health", "/login", "/static/", "/favicon.ico")


class AskRequest(BaseModel):
    """Body of `POST /ask`."""

    # Unknown fields are refused so a misspelt "qestion" is reported, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., strict=True, description="Câu hỏi, tiếng Việt (có hoặc không dấu) hoặc tiếng Anh.",
                          examples=["Ai phụ trách giải thể HTX ở Vĩnh Linh?"])
    k: int | None = Field(None, ge=1, le=20, strict=True, description="Số trích dẫn trả về (1–20; mặc định HTX_TOP_K).")
    filters: Filters | None = Field(None, description="Chỉ tìm trong các văn bản khớp các bộ lọc này.")
    conversation_id: str | None = Field(
        None, strict=True, min_length=1, max_length=128,
        description="Cùng một mã cho các câu hỏi của một cuộc trò chuyện: câu hỏi tiếp nối (\"còn ở Hà Tĩnh thì sao?\") "
        "được hiểu theo câu trước, và `understood_as` cho biết đã hiểu thế nào. Bỏ trống = câu hỏi độc lập.",
    )
    new_conversation: bool = Field(False, strict=True, description="Bắt đầu lại cuộc trò chuyện trước khi hỏi.")


class HealthReport(BaseModel):
    status: str
    documents: int
    chunks: int
    embedder: str
    generation: str | None = None


class DocumentListItem(DocumentMeta):
    url: str = Field(description="The document view.")


class SectionOut(BaseModel):
    path: list[str]
    anchor: str
    clause_label: str
    kind: str
    title: str
    text: str
    start: int
    end: int
    fields: dict[str, str] = Field(default_factory=dict)


class DocumentOut(BaseModel):
    meta: DocumentMeta
    url: str
    sections: list[SectionOut]
    source_text: str


# --------------------------------------------------------------------------- the index, loaded late


class IndexUnavailable(Exception):
    """No index is loaded (yet); `str()` says why, for /health and 503 bodies."""


class AssistantSlot:
    """Holds the Assistant, opening it on first use and reloading it after an ingest.

    Blocking: call from the threadpool, never on the event loop."""

    def __init__(self, settings: Settings, assistant: Any = None) -> None:
        self.settings = settings
        self._assistant = assistant
        self._opening = threading.Lock()
        self._next_open = 0.0
        self._next_reload_check = 0.0
        self._reload_gate = threading.Lock()
        self.error = "" if assistant is not None else "chưa nạp chỉ mục"

    def get(self) -> Any:
        assistant = self._assistant
        if assistant is None:
            return self._open()
        self._maybe_reload(assistant)
        return self._assistant

    def _open(self) -> Any:
        from assistant.api import Assistant
        from index.store import StoreError

        if time.monotonic() < self._next_open:
            raise IndexUnavailable(self.error)
        # Only one request pays for opening; the others are told to come back.
        if not self._opening.acquire(blocking=False):
            raise IndexUnavailable("đang nạp chỉ mục / the index is loading")
        try:
            if self._assistant is not None:
                return self._assistant
            try:
                self._assistant = Assistant.open(self.settings)
            except StoreError as exc:
                self.error = str(exc)
            except Exception as exc:  # a broken index must not take the process down
                log.exception("cannot open the index at %s", self.settings.index_dir)
                self.error = f"cannot open the index: {exc}"
            else:
                self.error = ""
                log.info("index loaded from %s", self.settings.index_dir)
                return self._assistant
            self._next_open = time.monotonic() + OPEN_RETRY_SECONDS
            raise IndexUnavailable(self.error)
        finally:
            self._opening.release()

    def _maybe_reload(self, assistant: Any) -> None:
        now = time.monotonic()
        if now < self._next_reload_check or not self._reload_gate.acquire(blocking=False):
            return
        try:
            self._next_reload_check = now + RELOAD_CHECK_SECONDS
            if assistant.reload_if_changed():
                log.info("index reloaded: %s", assistant.store.generation)
        except Exception:
            # Keep serving the generation we have; the next check tries again.
            log.exception("reloading the index failed")
        finally:
            self._reload_gate.release()


# --------------------------------------------------------------------------- metrics


class WebMetrics:
    """Prometheus metrics of one app (its own registry, so several apps can share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("htx_http_requests", "HTTP requests by endpoint, method and status.",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("htx_http_request_duration_seconds", "Time to answer a request, by endpoint.",
                                 ["endpoint"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.errors = Counter("htx_http_errors", "Error responses: kind=client (4xx) or server (5xx).",
                              ["endpoint", "kind"], registry=self.registry)
        self.questions = Counter("htx_questions", "Questions answered by POST /ask.", registry=self.registry)
        self.abstentions = Counter("htx_abstentions", "Questions for which no clause was found.",
                                   registry=self.registry)
        self.index_loaded = Gauge("htx_index_loaded", "1 while an index is loaded.", registry=self.registry)


class _MetricsMiddleware:
    """Outermost layer: sees every response, including the 401/413 sent by the layers below."""

    def __init__(self, app: ASGIApp, metrics: WebMetrics, endpoint_of: Callable[[Scope], str]) -> None:
        self.app = app
        self.metrics = metrics
        self.endpoint_of = endpoint_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        endpoint = self.endpoint_of(scope)
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException:
            status = 500
            raise
        finally:
            m = self.metrics
            m.requests.labels(endpoint, scope["method"], str(status)).inc()
            m.latency.labels(endpoint).observe(time.perf_counter() - started)
            if status >= 400:
                m.errors.labels(endpoint, "server" if status >= 500 else "client").inc()


# --------------------------------------------------------------------------- body size and auth


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class _BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` before anything parses them: at once when Content-Length
    says so, otherwise as soon as the streamed (chunked) bytes pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return (f"Nội dung yêu cầu quá lớn (tối đa {self.max_bytes} byte). "
                f"/ Request body too large (at most {self.max_bytes} bytes).")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await _error(400, "Content-Length không hợp lệ. / Invalid Content-Length.")(scope, receive, send)
                    return
                if declared > self.max_bytes:
                    await _error(413, self._message(), {"Connection": "close"})(scope, receive, send)
                    return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app, so FastAPI turns it into the same JSON 413.
                    raise HTTPException(413, self._message(), headers={"Connection": "close"})
            return message

        await self.app(scope, counting_receive, send)


def session_token(api_key: str) -> str:
    """The login cookie's value: derived from the key, so the cookie never holds the key itself."""
    return hmac.new(api_key.encode("utf-8"), b"htx-web-session-v1", hashlib.sha256).hexdigest()


class _AuthMiddleware:
    """With HTX_API_KEY set, every path but /health, /login and static files needs the key:
    header X-API-Key, or the cookie the login form sets."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode("utf-8")
        self.token = session_token(api_key).encode("ascii")

    def allowed(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"x-api-key" and hmac.compare_digest(value, self.key):
                return True
            if name == b"cookie":
                for part in value.split(b";"):
                    cname, _, cvalue = part.strip().partition(b"=")
                    if cname == SESSION_COOKIE.encode() and hmac.compare_digest(cvalue, self.token):
                        return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_OPEN_PATHS) or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        accept = next((v for n, v in scope["headers"] if n == b"accept"), b"").decode("latin-1")
        if scope["method"] == "GET" and "text/html" in accept:
            target = scope["path"] + (("?" + scope["query_string"].decode("latin-1")) if scope["query_string"] else "")
            response: Response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        else:
            response = _error(401, "Cần khóa truy cập: gửi header X-API-Key hoặc đăng nhập tại /login. "
                                   "/ An API key is required (X-API-Key header, or log in at /login).")
        await response(scope, receive, send)


# --------------------------------------------------------------------------- request parsing


_FIELD_MESSAGES = {
    "question": "Trường 'question' phải là chuỗi văn bản. / 'question' must be a string.",
    "k": "Trường 'k' phải là số nguyên từ 1 đến 20. / 'k' must be an integer from 1 to 20.",
}


def _readable(errors: list[dict]) -> list[dict[str, str]]:
    """Pydantic's errors as one sentence per field that a person can act on."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc)
        kind = err.get("type", "")
        if kind == "missing":
            message = f"Thiếu trường '{field}'. / Missing field '{field}'."
        elif kind == "extra_forbidden":
            message = f"Trường '{field}' không được hỗ trợ. / Unknown field '{field}'."
        elif kind in ("model_type", "dict_type") and not loc:
            message = ('Nội dung phải là một đối tượng JSON, ví dụ {"question": "…"}. '
                       '/ The body must be a JSON object such as {"question": "…"}.')
        elif field in _FIELD_MESSAGES:
            message = _FIELD_MESSAGES[field]
        else:
            message = f"Trường '{field}' không hợp lệ: {err.get('msg', '')}. / Invalid '{field}': {err.get('msg', '')}."
        out.append({"field": field, "message": message})
    return out


def _validation_response(errors: list[dict]) -> JSONResponse:
    readable = _readable(errors)
    return JSONResponse({"detail": " ".join(e["message"] for e in readable), "errors": readable}, status_code=422)


async def _json_body(request: Request) -> Any:
    ctype = request.headers.get("content-type", "")
    if ctype and ctype.split(";")[0].strip().lower() != "application/json" and not ctype.lower().endswith("+json"):
        # Also keeps cross-site HTML forms (which cannot send application/json) out.
        raise HTTPException(415, "Nội dung phải là JSON (Content-Type: application/json). "
                                 "/ The body must be JSON (Content-Type: application/json).")
    raw = await request.body()
    if not raw.strip():
        raise HTTPException(400, 'Thiếu nội dung yêu cầu: gửi {"question": "…"}. / Empty body: send {"question": "…"}.')
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"Nội dung không phải UTF-8 hợp lệ (byte {exc.start}). "
                                 f"/ The body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"JSON không hợp lệ: {exc.msg} (dòng {exc.lineno}, cột {exc.colno}). "
                                 f"/ Invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None


def _wants_html(request: Request) -> bool:
    """Browsers ask for text/html first; API clients send */* or application/json."""
    best, best_q = "", -1.0
    for item in request.headers.get("accept", "").split(","):
        media, *params = [p.strip() for p in item.split(";")]
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if media in ("text/html", "application/json") and q > best_q:
            best, best_q = media, q
    return best == "text/html"


def _local_path(target: str | None) -> str:
    """Where to go after login: a path on this site only (never `//evil.example`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


# --------------------------------------------------------------------------- HTML


def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES_DIR / name).read_text(encoding="utf-8"))


def _esc(value: object) -> str:
    import html

    return html.escape("" if value is None else str(value), quote=True)


def _issued(meta: DocumentMeta) -> str:
    if meta.issued:
        return meta.issued.strftime("%d/%m/%Y")
    return meta.issued_text or ""


_MARKUP = re.compile(r"</?[a-zA-Z][^>]*>|^#{1,6}\s*|\*\*|__", re.MULTILINE)


def _plain(raw: str) -> str:
    """Letterhead and signature text as printed, without the converter's markdown/HTML marks."""
    text = _MARKUP.sub("", raw)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_BULLET_SPLIT = re.compile(r"(?<=[.;:)])\s+(?=[-–+•] )")


def _paragraphs(text: str) -> str:
    # Section text arrives whitespace-collapsed; bullets on their own lines read like the original.
    return "".join(f"<p>{_esc(p)}</p>" for p in _BULLET_SPLIT.split(text) if p.strip())


def _section_body(section: Any, parent_text: str | None) -> str:
    if section.kind == "table_row" and section.fields:
        # Table rows are shown cell by cell: their text interleaves the columns.
        rows = "".join(
            f"<dt>{_esc(name)}</dt><dd>{_esc(value)}</dd>"
            for name, value in section.fields.items()
            if value and value != parent_text
        )
        return f'<p class="rownum">{_esc(section.path[-1])}.</p><dl class="cells">{rows}</dl>'
    return _paragraphs(section.text)


def render_document(doc: Document, highlight: str | None) -> str:
    meta = doc.meta
    sections = doc.sections
    anchors = [anchor_for(s.path) for s in sections]
    highlight = highlight if highlight in anchors else None
    by_path = {tuple(s.path): s for s in sections}

    outline, body = [], []
    if sections and sections[0].start > 0:
        head = _plain(doc.source_text[: sections[0].start])
        if head:
            body.append(f'<div class="raw">{_esc(head)}</div>')
    for i, (section, anchor) in enumerate(zip(sections, anchors)):
        depth = min(len(section.path), 4)
        label = clause_label(section.path)
        title = section.title or section.text[:80]
        current = ' aria-current="location"' if anchor == highlight else ""
        outline.append(
            f'<li class="d{depth}"><a href="#{_esc(anchor)}"{current}>'
            f'<span class="lbl">{_esc(label)}</span> {_esc(title[:90])}</a></li>'
        )
        parent = by_path.get(tuple(section.path[:-1]))
        classes = f"sec d{depth} k-{_esc(section.kind)}" + (" hl" if anchor == highlight else "")
        badge = '<span class="cited">Điều khoản được trích dẫn</span>' if anchor == highlight else ""
        body.append(
            f'<section id="{_esc(anchor)}" class="{classes}" data-clause="{_esc(label)}">'
            f'<a class="clause" href="?highlight={_esc(anchor)}#{_esc(anchor)}">{_esc(label)}</a>{badge}'
            f'{_section_body(section, parent.text if parent else None)}</section>'
        )
        # Whatever lies between two sections (a table header, a stray line) is shown too.
        gap_end = sections[i + 1].start if i + 1 < len(sections) else len(doc.source_text)
        gap = _plain(doc.source_text[section.end: gap_end])
        if gap:
            body.append(f'<div class="raw">{_esc(gap)}</div>')
    if not sections:
        body.append(f'<div class="raw">{_esc(_plain(doc.source_text))}</div>')

    facts = [
        ("Loại văn bản", meta.doc_type), ("Số, ký hiệu", meta.number), ("Cơ quan ban hành", meta.issuer),
        ("Ngày ban hành", _issued(meta)), ("Người ký", " ".join(x for x in (meta.signer_role, meta.signer) if x)),
        ("Địa phương", meta.locality), ("Trích yếu", meta.title),
    ]
    facts_html = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in facts if v)
    truncated = ('<p class="warn">Văn bản nhận được bị cắt cụt: phần cuối không có trong hệ thống.</p>'
                 if meta.truncated else "")
    return _template("document.html").substitute(
        page_title=_esc(meta.display_title()),
        heading=_esc(meta.display_title()),
        subtitle=_esc(meta.title or ""),
        facts=facts_html,
        truncated=truncated,
        outline="".join(outline),
        body="".join(body),
        doc_id=_esc(meta.doc_id),
        json_url=_esc(f"/documents/{quote(meta.doc_id)}.json"),
    )


def render_login(next_path: str, failed: bool) -> str:
    error = '<p class="error" role="alert">Khóa truy cập không đúng.</p>' if failed else ""
    return _template("login.html").substitute(next=_esc(next_path), error=error)


def _page(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status, headers={**PAGE_HEADERS, "Cache-Control": "no-store"})


# --------------------------------------------------------------------------- the app


def create_app(source: Any = None, *, settings: Settings | None = None) -> FastAPI:
    """The ASGI app. `source` is an open `Assistant`, or `Settings` (None = `get_settings()`)
    naming an index that may not exist yet. `settings` overrides the web settings
    (api_key, max_body_bytes) of an Assistant's own."""
    if source is None or isinstance(source, Settings):
        settings = settings or source or get_settings()
        slot = AssistantSlot(settings)
    else:
        settings = settings or source.settings
        slot = AssistantSlot(settings, source)
    metrics = WebMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if slot._assistant is None:
            try:
                await run_in_threadpool(slot.get)
            except IndexUnavailable as exc:
                log.warning("starting without an index (%s); /health answers 503 until one is built", exc)
        yield

    app = FastAPI(
        title="htx-assistant",
        summary="Hỏi đáp văn bản chính sách hợp tác xã, kèm trích dẫn điều khoản.",
        description="Answers questions about Vietnamese cooperative (HTX) policy documents, citing the exact "
                    "document and clause. With `HTX_API_KEY` set, every endpoint but `/health` needs the "
                    "`X-API-Key` header (or the cookie set by the login form at `/login`).",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.slot = slot
    app.state.metrics = metrics
    app.state.settings = settings

    def assistant_now() -> Any:
        """Blocking (opens or reloads the index): threadpool only."""
        try:
            assistant = slot.get()
        except IndexUnavailable as exc:
            metrics.index_loaded.set(0)
            raise HTTPException(503, f"Chưa có chỉ mục để trả lời: {exc}. / No index is loaded: {exc}.",
                                headers={"Retry-After": str(int(OPEN_RETRY_SECONDS))}) from None
        metrics.index_loaded.set(1)
        return assistant

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(list(exc.errors()))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "Lỗi máy chủ; đã ghi lại để kiểm tra. / Internal server error.")

    # ---- the page

    index_html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return _page(index_html)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/login", include_in_schema=False)
    async def login_form(next: str = "/") -> Response:
        if not settings.api_key:
            return RedirectResponse(_local_path(next), status_code=303)
        return _page(render_login(_local_path(next), failed=False))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        target = _local_path((form.get("next") or ["/"])[0])
        key = (form.get("key") or [""])[0]
        if not settings.api_key:
            return RedirectResponse(target, status_code=303)
        if not hmac.compare_digest(key.encode("utf-8"), settings.api_key.encode("utf-8")):
            await asyncio.sleep(0.5)  # slows guessing without blocking anyone else
            return _page(render_login(target, failed=True), status=401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, session_token(settings.api_key), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", max_age=30 * 24 * 3600, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/login" if settings.api_key else "/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ---- the API

    @app.post(
        "/ask",
        response_model=Answer,
        summary="Trả lời một câu hỏi kèm trích dẫn (same object as `htx ask --json`)",
        # The body is parsed by hand (for readable errors), so its schema is declared here.
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/AskRequest"}}}}},
        responses={
            400: {"description": "Invalid JSON or UTF-8, or an empty body."},
            413: {"description": "Body larger than HTX_MAX_BODY_BYTES."},
            415: {"description": "Content-Type is not application/json."},
            422: {"description": "Wrong field type, k out of 1–20, empty or too long question."},
            503: {"description": "No index is loaded yet."},
        },
    )
    async def ask(request: Request) -> Response:
        payload = await _json_body(request)
        try:
            body = AskRequest.model_validate(payload)
        except ValidationError as exc:
            return _validation_response(exc.errors())

        def answer() -> Answer:
            assistant = assistant_now()
            if body.conversation_id is None:
                return assistant.ask(body.question, k=body.k, filters=body.filters)
            # Web conversations are namespaced apart from Telegram chats.
            conversation = f"web:{body.conversation_id}"
            if body.new_conversation:
                assistant.new_conversation(conversation)
            return assistant.ask_in_conversation(conversation, body.question, k=body.k, filters=body.filters)

        try:
            result = await run_in_threadpool(answer)
        except QuestionError as exc:
            return JSONResponse({"detail": str(exc), "errors": [{"field": "question", "message": str(exc)}]},
                                status_code=422)
        metrics.questions.inc()
        if result.abstained:
            metrics.abstentions.inc()
        return JSONResponse(result.model_dump(mode="json"))

    @app.get("/health", response_model=HealthReport, summary="Index status (200 when ready, 503 while none is loaded)",
             responses={503: {"description": "No index is loaded yet; `detail` says why."}})
    async def health() -> Response:
        try:
            assistant = await run_in_threadpool(assistant_now)
        except HTTPException:
            return JSONResponse({"status": "unavailable", "detail": slot.error or "chưa nạp chỉ mục"},
                                status_code=503, headers={"Retry-After": str(int(OPEN_RETRY_SECONDS))})
        report = HealthReport(status="ok", documents=len(assistant.documents()), chunks=assistant.chunk_count,
                              embedder=assistant.embedder_id, generation=getattr(assistant.store, "generation", None))
        return JSONResponse(report.model_dump())

    @app.get("/documents", response_model=list[DocumentListItem], summary="The indexed documents with their metadata")
    async def documents() -> Response:
        assistant = await run_in_threadpool(assistant_now)
        items = [{**m.model_dump(mode="json"), "url": f"/documents/{quote(m.doc_id)}"} for m in assistant.documents()]
        return JSONResponse(items)

    def load_document(doc_id: str) -> Document:
        doc = assistant_now().document(doc_id)
        if doc is None:
            raise HTTPException(404, f"Không có văn bản '{doc_id}'. / Unknown document '{doc_id}'.")
        return doc

    def document_json(doc: Document) -> JSONResponse:
        out = DocumentOut(
            meta=doc.meta,
            url=f"/documents/{quote(doc.doc_id)}",
            source_text=doc.source_text,
            sections=[SectionOut(path=s.path, anchor=anchor_for(s.path), clause_label=clause_label(s.path),
                                 kind=s.kind, title=s.title, text=s.text, start=s.start, end=s.end, fields=s.fields)
                      for s in doc.sections],
        )
        return JSONResponse(out.model_dump(mode="json"))

    @app.get("/documents/{doc_id}.json", response_model=DocumentOut,
             summary="A whole document as JSON: metadata, outline with anchors, source text",
             responses={404: {"description": "Unknown document."}})
    async def document_as_json(doc_id: str) -> Response:
        return document_json(await run_in_threadpool(load_document, doc_id))

    @app.get(
        "/documents/{doc_id}",
        response_model=DocumentOut,
        summary="A whole document: an HTML page for browsers (Accept: text/html), JSON otherwise",
        description="Every section of the page is an element whose id is the anchor of citation `url`s "
                    "(`/documents/<doc_id>#<anchor>`); `?highlight=<anchor>` marks that clause. Clients "
                    "that do not ask for text/html get the same JSON as `/documents/{doc_id}.json`.",
        responses={200: {"content": {"text/html": {}}}, 404: {"description": "Unknown document."}},
    )
    async def document(request: Request, doc_id: str,
                       highlight: str | None = Query(None, max_length=200, description="Anchor of the clause to mark.")
                       ) -> Response:
        if not _wants_html(request):
            return document_json(await run_in_threadpool(load_document, doc_id))
        try:
            doc = await run_in_threadpool(load_document, doc_id)
        except HTTPException as exc:
            # A person following a stale link gets a page, not a JSON error.
            title = "Không tìm thấy văn bản" if exc.status_code == 404 else "Chưa sẵn sàng"
            return _page(_template("message.html").substitute(title=_esc(title), message=_esc(exc.detail)),
                         status=exc.status_code)
        return _page(render_document(doc, highlight))

    @app.get("/tasks", summary="The task register (who does what, by when), filtered by agency and locality",
             responses={501: {"description": "This build has no task register yet."}})
    async def tasks(agency: str | None = Query(None, max_length=200, description="Cơ quan chủ trì / phối hợp."),
                    locality: str | None = Query(None, max_length=200, description="Địa phương.")) -> Response:
        def run() -> list:
            assistant = assistant_now()
            if not hasattr(assistant, "tasks"):
                raise HTTPException(501, "Sổ nhiệm vụ chưa có trong phiên bản này. / The task register is not available.")
            return assistant.tasks(agency=agency, locality=locality)

        items = await run_in_threadpool(run)
        return JSONResponse([t.model_dump(mode="json") if hasattr(t, "model_dump") else t for t in items])

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    plain_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = plain_openapi()
            ask_schema = AskRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(ask_schema.pop("$defs", {}))
            schemas["AskRequest"] = ask_schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def endpoint_of(scope: Scope) -> str:
        # Route templates, not raw paths: one label per endpoint however many documents there are.
        for route in app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", "other") or "other"
        return "other"

    # Added innermost first: auth sees only bodies within the limit; metrics sees everything.
    if settings.api_key:
        app.add_middleware(_AuthMiddleware, api_key=settings.api_key)
    app.add_middleware(_BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(_MetricsMiddleware, metrics=metrics, endpoint_of=endpoint_of)
    return app


# --------------------------------------------------------------------------- running it


class BackgroundServer:
    """uvicorn serving `app` on a loopback port in a daemon thread (tests, benchmark, screenshots).

        with BackgroundServer(create_app(assistant)) as server:
            httpx.get(server.url + "/health")
    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                     access_log=False)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="htx-web", daemon=True)
        self.url = ""

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """`htx serve`: one process (the embedder is loaded once), blocking work in its threadpool."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)
