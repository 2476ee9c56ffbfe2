"""The Python API: everything the CLI, the web endpoint and the Telegram bot can do.

    from assistant import Assistant
    bot = Assistant.open()                 # the index named by HTX_INDEX_DIR / HTX_CHROMA_URL
    answer = bot.ask("Ai phụ trách giải thể HTX ở Vĩnh Linh?")
    answer.citations[0].clause_label       # "mục 3.2"
"""
from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path

from index.embedders import load_embedder
from index.models import Document, DocumentMeta
from index.settings import Settings, get_settings
from index.store import IndexStore

from .models import Answer, Citation, Filters, Hit, QuestionError
from .retrieval import HybridRetriever

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")


def clean_question(question: object, max_chars: int) -> str:
    """Normalize a question or refuse it with a message a user can act on."""
    if not isinstance(question, str):
        raise QuestionError("Câu hỏi phải là văn bản. / The question must be text.")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", question))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("Câu hỏi trống: hãy nhập nội dung cần hỏi. / The question is empty.")
    if len(text) > max_chars:
        raise QuestionError(
            f"Câu hỏi quá dài ({len(text)} ký tự, tối đa {max_chars}). "
            f"/ The question is too long ({len(text)} characters, at most {max_chars})."
        )
    return text


class Assistant:
    def __init__(self, store: IndexStore, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._embed_model = load_embedder(settings.embedder)
        self._load(store)

    @classmethod
    def open(cls, settings: Settings | None = None, index_dir: Path | str | None = None) -> "Assistant":
        settings = settings or get_settings()
        if index_dir is not None:
            settings = settings.model_copy(update={"index_dir": Path(index_dir)})
        return cls(IndexStore.open(settings), settings)

    def _load(self, store: IndexStore) -> None:
        chunks = store.all_chunks()
        self.store = store
        self._documents = {m.doc_id: m for m in store.documents()}
        self.retriever = HybridRetriever(store.vector_store(), self._embed_model, chunks, top_k=self.settings.top_k,
                                         documents=list(self._documents.values()))

    def reload_if_changed(self) -> bool:
        """Pick up a finished ingest without restarting; a failed one changes nothing."""
        if not self.store.changed():
            return False
        with self._lock:
            if self.store.changed():
                old = self.store
                self._load(IndexStore.open(self.settings))
                # Requests already running hold their own references to the old retriever;
                # the store's client is only needed to open it, so it can go now.
                old.close()
        return True

    # --- retrieval and answers -------------------------------------------------------------

    def search(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        text = clean_question(question, self.settings.max_question_chars)
        return self.retriever.search(text, k or self.settings.top_k, filters)

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        text = clean_question(question, self.settings.max_question_chars)
        query = self.retriever.understand(text)
        hits = self.retriever.search(query, k or self.settings.top_k, filters)
        citations = [self.cite(h) for h in hits]
        if not citations:
            return Answer(question=text, answer="Không tìm thấy điều khoản nào phù hợp.", abstained=True,
                          citations=[], intent=query.intent, language=query.language)
        return Answer(question=text, answer=citations[0].text, abstained=False, citations=citations,
                      intent=query.intent, language=query.language)

    def cite(self, hit: Hit) -> Citation:
        meta = self._documents.get(hit.chunk.doc_id) or DocumentMeta(doc_id=hit.chunk.doc_id)
        return Citation.from_hit(hit, meta, self.settings.public_url)

    # --- the corpus ------------------------------------------------------------------------

    def documents(self) -> list[DocumentMeta]:
        return sorted(self._documents.values(), key=lambda m: m.doc_id)

    def document(self, doc_id: str) -> Document | None:
        return self.store.document(doc_id)

    @property
    def chunk_count(self) -> int:
        return len(self.retriever.chunks)

    @property
    def embedder_id(self) -> str:
        return self.store.embedder_id
