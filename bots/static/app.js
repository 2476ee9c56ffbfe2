// The question page: plain DOM, no framework. Everything from the server is inserted with
// textContent (never innerHTML), so clause text can never run as markup.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("ask-form");
  const input = $("q");
  const button = $("ask-btn");
  const status = $("status");
  const result = $("result");
  const list = $("citations");
  const template = $("citation-tpl");
  const documents = new Map();
  let pending = null;
  // One conversation per browser tab: follow-ups ("còn ở Hà Tĩnh thì sao?") build on it;
  // "Câu hỏi mới" starts a new one.
  let conversationId = newConversationId();
  let freshConversation = true;

  function newConversationId() {
    return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
  }

  function vnDate(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return m ? `${m[3]}/${m[2]}/${m[1]}` : "";
  }

  function clauseHref(c) {
    const id = encodeURIComponent(c.doc_id);
    const anchor = encodeURIComponent(c.anchor);
    return `/documents/${id}?highlight=${anchor}#${anchor}`;
  }

  function setField(card, cls, value) {
    const row = card.querySelector("." + cls);
    if (value) row.querySelector("dd").textContent = value;
    else row.remove();
  }

  function renderCitation(c, n) {
    const card = template.content.firstElementChild.cloneNode(true);
    const meta = documents.get(c.doc_id) || {};
    const href = clauseHref(c);
    card.dataset.docId = c.doc_id;
    card.dataset.anchor = c.anchor;
    card.querySelector(".num").textContent = `[${n}]`;
    card.querySelector(".clause-label").textContent = c.clause_label;
    const link = card.querySelector(".doc-link");
    link.textContent = c.doc_title;
    link.href = href;
    const subtitle = card.querySelector(".doc-subtitle");
    if (meta.title) subtitle.textContent = meta.title; else subtitle.remove();
    setField(card, "m-number", c.number);
    setField(card, "m-issuer", c.issuer);
    setField(card, "m-issued", vnDate(c.issued) || meta.issued_text || "");
    card.querySelector(".verbatim").textContent = c.text;
    card.querySelector(".open-clause").href = href;
    return card;
  }

  function show(answer) {
    const understood = $("understood");
    understood.hidden = !answer.understood_as;
    understood.textContent = answer.understood_as ? `Hiểu câu hỏi là: ${answer.understood_as}` : "";
    const direct = $("direct");
    direct.hidden = !answer.direct;
    direct.textContent = answer.direct || "";
    const text = $("answer-text");
    text.textContent = answer.abstained
      ? "Không tìm thấy điều khoản nào phù hợp trong các văn bản hiện có. Hãy hỏi cụ thể hơn (địa phương, cơ quan, nội dung)."
      : answer.answer;
    $("answer").classList.toggle("abstained", answer.abstained);
    list.replaceChildren(...answer.citations.map((c, i) => renderCitation(c, i + 1)));
    $("cites-h").hidden = answer.citations.length === 0;
    result.hidden = false;
    status.textContent = answer.abstained ? "Không có trích dẫn." : `${answer.citations.length} trích dẫn.`;
  }

  function fail(message) {
    result.hidden = true;
    status.textContent = message;
    status.classList.add("error");
  }

  async function ask(question) {
    if (pending) pending.abort();
    pending = new AbortController();
    status.classList.remove("error");
    status.textContent = "Đang tìm…";
    button.disabled = true;
    try {
      const response = await fetch("/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ question, conversation_id: conversationId, new_conversation: freshConversation }),
        credentials: "same-origin",
        signal: pending.signal,
      });
      if (response.status === 401) {
        location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
        return;
      }
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        fail((data && data.detail) || `Máy chủ trả lỗi ${response.status}.`);
        return;
      }
      freshConversation = false;
      show(data);
    } catch (err) {
      if (err.name !== "AbortError") fail("Không kết nối được máy chủ. Hãy thử lại.");
    } finally {
      button.disabled = false;
    }
  }

  $("new-btn").addEventListener("click", () => {
    conversationId = newConversationId();
    freshConversation = true;
    result.hidden = true;
    status.textContent = "Câu hỏi mới: câu tiếp theo sẽ không dựa vào các câu trước.";
    input.value = "";
    input.focus();
  });

  function submit(question) {
    question = question.trim();
    if (!question) {
      fail("Hãy nhập câu hỏi.");
      input.focus();
      return;
    }
    // The question stays in the address, so a result can be shared or reopened with Back.
    history.replaceState(null, "", "?q=" + encodeURIComponent(question));
    ask(question);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(input.value);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit(input.value);
    }
  });
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      input.value = example.textContent;
      submit(input.value);
    });
  }

  async function loadDocuments() {
    try {
      const response = await fetch("/documents", { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      const items = await response.json();
      const ul = $("doc-list");
      for (const meta of items) {
        documents.set(meta.doc_id, meta);
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = `/documents/${encodeURIComponent(meta.doc_id)}`;
        a.textContent = meta.doc_type && meta.number ? `${meta.doc_type} ${meta.number}` : meta.doc_id;
        const small = document.createElement("span");
        small.className = "doc-meta";
        small.textContent = [meta.issuer, vnDate(meta.issued) || meta.issued_text].filter(Boolean).join(" · ");
        li.append(a, small);
        if (meta.title) {
          const t = document.createElement("span");
          t.className = "doc-title-line";
          t.textContent = meta.title;
          li.append(t);
        }
        ul.append(li);
      }
    } catch (err) {
      // The list is a convenience; questions still work without it.
    }
  }

  const initial = new URLSearchParams(location.search).get("q");
  loadDocuments().then(() => {
    if (initial) {
      input.value = initial;
      ask(initial);
    }
  });
})();
