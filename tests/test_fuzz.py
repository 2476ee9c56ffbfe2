"""Any text a user drops into corpus/ goes through the structure parser and the chunker
without crashing ingest, and every citation can still be checked against the original.

The invariant the whole project relies on (a citation's text is the source's own words):
for every chunk of a document parsed from `source`,

    0 <= chunk.start < chunk.end <= len(source)  and
    index.structure.visible_text(source[chunk.start:chunk.end]) == chunk.text != ""

i.e. the chunk's offsets point at a span of its source whose visible text (markup removed,
entities decoded, whitespace collapsed) is exactly the chunk's text. The only exception
allowed to escape is `ParseError` ("no content found"), which ingest reports per file.
Chunk ids are unique within a document, since ingest refuses a document whose clauses share
an id. Sections obey the same offset invariant.
"""
from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from index.chunking import chunk_document
from index.structure import ParseError, parse_text, visible_text

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces real documents are made of: numbering of every kind, bullets, legal headings,
# header and signature cues, the tab-separated appendix table, Markdown and HTML markup.
MARKERS = [
    "I-", "II.", "IV -", "V:", "1.", "2.", "1.1.", "3.2.", "10.", "1.2.3.", "a)", "b)", "đ)", "d)", "- ", "– ", "+ ",
    "• ", "* ", "Điều 1.", "Điều 2:", "Điều 42a.", "Chương I", "Chương 2.", "Mục 1.", "Phần thứ nhất", "Phần II",
    "PHỤ LỤC", "STT\tNHIỆM VỤ\tPHÂN CÔNG TRÁCH NHIỆM", "1\tNhóm", "1.1\tNhiệm vụ\tSở Nông nghiệp", "\t\t", "\t",
    "#### **", "**", "# ", "<b>", "</b>", "<td>", "<br/>", "&amp;", "&nbsp;", "&#x1F600;", "&bogus;", "<", ">",
    "KẾ HOẠCH", "CÔNG VĂN", "V/v ", "Số: 67-KH/HU", "Vĩnh Linh, ngày 05 tháng 3 năm 2023", "Kính gửi:", "Nơi nhận:",
    "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Trên đây là", "[...]", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Căn cứ Luật Hợp tác xã", "khoản 1 Điều 54 Luật Hợp tác xã",
]
WORDS = ["hợp tác xã", "HTX", "UBND", "kinh phí", "năm 2024", "Phòng Nông nghiệp", "x" * 90, "ĐĂNG KÝ", "(", ")",
         ":", ";", ".", "…", "đ", "Ð", "ǅ", "ﬁ", "İ", "ß", "e\u0301", "\u200b", "\ufeff", "\xa0", "\u3000", "0"]
NEWLINES = ["\n", "\n", "\n", "\r\n", "\r", "\n\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"]

line = st.lists(st.one_of(st.sampled_from(MARKERS), st.sampled_from(WORDS), st.text(max_size=12)),
                min_size=0, max_size=8).map(" ".join)
structured = st.lists(st.tuples(st.text(" \t", max_size=3), line, st.sampled_from(NEWLINES)),
                      min_size=1, max_size=40).map(lambda rows: "".join(lead + text + nl for lead, text, nl in rows))


def check(source: str) -> None:
    try:
        doc = parse_text("fuzz", source)
    except ParseError:
        return
    for section in doc.sections:
        assert 0 <= section.start < section.end <= len(source), section
        assert visible_text(source[section.start:section.end]) == section.text != ""
    chunks = chunk_document(doc)
    for chunk in chunks:
        assert 0 <= chunk.start < chunk.end <= len(source), chunk
        assert visible_text(source[chunk.start:chunk.end]) == chunk.text != "", chunk
    ids = [c.chunk_id for c in chunks]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@FUZZ
@given(st.text(max_size=400))
@example("")
@example("\x85\u2028")
@example("1.\n")
def test_arbitrary_unicode_parses_or_is_refused_cleanly(source):
    check(source)


@FUZZ
@given(structured)
@example("PHỤ LỤC\nSTT\tNHIỆM VỤ\tPHÂN CÔNG TRÁCH NHIỆM\n\t\t\n1.1\tNhiệm vụ\tSở\n")
# Found by this test: a second appendix, or a repeated row number, gave two chunks one id.
@example("1.\nPHỤ LỤC\nI- I-\nPHỤ LỤC\n")
@example("PHỤ LỤC I\nSTT\tNHIỆM VỤ\tPHÂN CÔNG\n1.1\tA\tSở\n1.1\tB\tPhòng\nPHỤ LỤC II\nSTT\tNHIỆM VỤ\tPHÂN CÔNG\n1.1\tC\tSở\n")
@example("Điều 1. A\r\nđ) x\r\nd) y\r\nđ) z\n")
def test_structured_text_keeps_every_chunk_checkable_against_its_source(source):
    check(source)


@FUZZ
@given(st.lists(st.sampled_from(["1. Hỗ trợ hợp tác xã", "a) Điểm", "- gạch đầu dòng", "x" * 200,
                                 "Điều 5. Quy định", "<b>in đậm</b>", "**đậm**", "&lt;thẻ&gt;"]),
                min_size=1, max_size=60),
       st.sampled_from(["\n", "\r\n", "\n\n"]))
def test_long_sections_split_into_checkable_pieces(lines, newline):
    check("KẾ HOẠCH\nPhát triển hợp tác xã\n" + newline.join(lines) + newline)


MARKS = st.sampled_from(["\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u0302", "\u0306", "\u031b", "\u0308",
                         "\u20d7", "\u200b", "\ufeff", "\xa0", "\u2028", "\t", "\n", "\r"])
vietnamese_ish = st.lists(st.one_of(st.sampled_from("aăâeêioôơuưyđĐHOAKQGNT "), MARKS, st.characters()),
                          max_size=60).map("".join)


@FUZZ
@given(vietnamese_ish)
@example("Hoà thuỷ khoẻ Uỷ")
@example("e\u0301\u0302")          # acute typed before circumflex must still compose into ế
def test_normalization_is_idempotent_and_tokenizes_anything(text):
    """Questions and documents meet in one spelling: normalizing twice changes nothing,
    and any text, however its marks were typed, yields BM25 tokens without an error."""
    from index.normalize import normalize_text, tokenize

    once = normalize_text(text)
    assert normalize_text(once) == once
    assert normalize_text("e\u0301\u0302") == "ế"
    tokenize(text)
