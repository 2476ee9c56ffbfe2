"""The structure parser on every quirk of the documents as received (see ../shared/README.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from index.chunking import chunk_document
from index.models import Document, clause_label
from index.structure import ParseError, parse_file, parse_text, visible_text

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    return {p.stem: parse_file(p) for p in sorted(CORPUS.glob("*.txt"))}


def paths(doc: Document) -> list[list[str]]:
    return [s.path for s in doc.sections]


def section(doc: Document, *path: str):
    return next(s for s in doc.sections if s.path == list(path))


def test_every_section_text_is_the_visible_text_of_its_source_span(docs):
    for doc in docs.values():
        for s in doc.sections:
            assert s.text == visible_text(doc.source_text[s.start:s.end]), (doc.doc_id, s.path)
        for c in chunk_document(doc):
            assert c.text == visible_text(doc.source_text[c.start:c.end]), (doc.doc_id, c.clause)


def test_roman_parts_with_dashes_and_the_duplicated_part_three_stay_apart(docs):
    kh67 = docs["vinh-linh-kh-67-hu-2023"]
    assert ["III", "3"] in paths(kh67)
    assert ["III (2)", "3"] in paths(kh67)
    assert section(kh67, "III", "3").text.startswith("3. Tăng cường thực hiện đổi mới")
    assert section(kh67, "III (2)", "4").text.startswith("4. UBND huyện")
    assert clause_label(["III", "3"]) == "mục III.3"


def test_ocr_slips_are_kept_verbatim(docs):
    target = section(docs["vinh-linh-kh-67-hu-2023"], "II", "2", "2.1")
    assert "Phân đầu hằng năm thành lập mới từ 02 đến 03 hợp tác xã" in target.text
    assert target.title == "Đến năm-2030"
    assert "29-NQ/TW" in section(docs["vinh-linh-kh-67-hu-2023"], "II", "1").text


def test_a_sentence_cut_by_a_page_break_is_one_paragraph(docs):
    text = section(docs["vinh-linh-kh-67-hu-2023"], "I", "3").text
    assert "phân phối theo mức độ tham gia dịch vụ" in text
    target = section(docs["vinh-linh-kh-67-hu-2023"], "II", "2", "2.1")
    assert "có đăng ký chứng thực" in target.text


def test_hard_wrapped_lines_are_rejoined_into_sections(docs):
    cv = docs["vinh-linh-cv-ubnd-nn-2023"]
    assert ["3", "3.2"] in paths(cv)
    text = section(cv, "3", "3.2").text
    assert text.startswith("3.2. Phòng Tài chính - Kế hoạch huyện:")
    assert "giải thể tự nguyện theo khoản 1 Điều 54 Luật Hợp tác xã" in text
    assert text.endswith("(Hoàn thành trong quý III năm 2023).")


def test_numbered_subsections_nest_under_their_section(docs):
    cv = docs["vinh-linh-cv-ubnd-nn-2023"]
    assert [p for p in paths(cv) if p[0] == "2"] == [["2"], ["2", "2.1"], ["2", "2.2"], ["2", "2.3"]]
    assert clause_label(["3", "3.2"]) == "mục 3.2"


def test_the_closing_paragraph_with_reporting_deadlines_is_its_own_section(docs):
    closing = section(docs["vinh-linh-cv-ubnd-nn-2023"], "phần kết")
    assert "trước ngày 10/6 và 30/11 hàng năm" in closing.text
    assert "Nơi nhận" not in closing.text


def test_header_recipients_and_signature_are_metadata_not_content(docs):
    for doc in docs.values():
        body = " ".join(s.text for s in doc.sections)
        assert "Nơi nhận" not in body, doc.doc_id
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA" not in body, doc.doc_id
        assert "Kính gửi" not in body, doc.doc_id
        assert doc.meta.signer and doc.meta.signer not in body, doc.doc_id


def test_points_a_b_nest_under_numbered_sections(docs):
    kg = docs["kien-giang-kh-251-ubnd-2023"]
    assert ["II", "2", "a"] in paths(kg)
    assert section(kg, "II", "2", "a").text.startswith("a) Đến năm 2030: - Toàn tỉnh có khoảng 3.000 tổ hợp tác")
    assert clause_label(["II", "2", "a"]) == "mục II.2.a"


def test_truncated_document_is_flagged_and_the_marker_is_not_content(docs):
    kg = docs["kien-giang-kh-251-ubnd-2023"]
    assert kg.meta.truncated
    assert "[...]" not in " ".join(s.text for s in kg.sections)
    assert section(kg, "II", "2", "a").text.endswith("Xử lý dứt điểm các hợp tác xã đã ngừng hoạt động.")


def test_metadata_block_on_top_is_not_content(docs):
    kg = docs["kien-giang-kh-251-ubnd-2023"]
    assert kg.sections[0].path == ["mở đầu"]
    assert kg.sections[0].text.startswith("Căn cứ Nghị quyết số 20-NQ/TW")


def test_markdown_headings_become_roman_parts(docs):
    ht = docs["ha-tinh-kh-ubnd-2022"]
    assert ["I"] in paths(ht) and ["IV", "1"] in paths(ht)
    assert section(ht, "I").title == "MỤC ĐÍCH, YÊU CẦU"


def test_appendix_rows_carry_the_agency_column_and_their_group(docs):
    ht = docs["ha-tinh-kh-ubnd-2022"]
    row = section(ht, "Phụ lục", "2.4")
    assert row.fields["PHÂN CÔNG TRÁCH NHIỆM"] == "Liên minh Hợp tác xã tỉnh"
    assert row.fields["Nhóm nhiệm vụ"].startswith("2. Tiếp tục đổi mới, hoàn thiện cơ chế")
    assert "<p>" not in row.text and "<b>" not in row.text
    chunk = next(c for c in chunk_document(ht) if c.clause == ["Phụ lục", "2.4"])
    assert chunk.clause_label == "Phụ lục, mục 2.4"
    embedded = chunk.embedding_text()
    assert "PHÂN CÔNG TRÁCH NHIỆM: Liên minh Hợp tác xã tỉnh" in embedded
    assert "Nhóm nhiệm vụ: 2. Tiếp tục đổi mới" in embedded


def test_appendix_rows_continued_across_page_breaks_are_joined(docs):
    row = section(docs["ha-tinh-kh-ubnd-2022"], "Phụ lục", "3.1")
    assert "nợ thành viên, thành viên nợ hợp tác xã" in row.fields["NHIỆM VỤ"]
    assert row.fields["PHÂN CÔNG TRÁCH NHIỆM"] == "UBND các huyện, thị xã, thành phố"
    row = section(docs["ha-tinh-kh-ubnd-2022"], "Phụ lục", "2.1")
    assert "Tăng cường xúc tiến đầu tư" in row.fields["NHIỆM VỤ"]


def test_sections_addressed_to_one_agency(docs):
    qn = docs["quang-nam-cv-2651-ubnd-ktn-2020"]
    assert [p for p in paths(qn) if p[0].isdigit()] == [[str(n)] for n in range(1, 8)]
    assert section(qn, "2").title == "Sở Kế hoạch và Đầu tư"


def test_long_sections_split_with_the_same_path_and_keep_their_addressee(docs):
    chunks = [c for c in chunk_document(docs["vinh-linh-cv-ubnd-nn-2023"]) if c.clause == ["3", "3.1"]]
    assert len(chunks) >= 2
    assert all(len(c.text) <= 1200 for c in chunks)
    assert "3.1. Phòng Nông nghiệp và PTNT:" in chunks[1].embedding_text()


def test_header_metadata(docs):
    kh67 = docs["vinh-linh-kh-67-hu-2023"].meta
    assert (kh67.doc_type, kh67.number, kh67.issuer, kh67.locality, kh67.level) == (
        "Kế hoạch", "67-KH/HU", "Ban Thường vụ Huyện ủy Vĩnh Linh", "Vĩnh Linh", "huyện")
    assert kh67.issued.isoformat() == "2023-01-31" and kh67.signer == "Trần Nhật Quang"
    cv = docs["vinh-linh-cv-ubnd-nn-2023"].meta
    assert (cv.doc_type, cv.number, cv.issuer, cv.issued, cv.issued_text) == (
        "Công văn", "…/UBND-NN", "Ủy ban nhân dân huyện Vĩnh Linh", None, "tháng 02 năm 2023")
    assert cv.province == "Quảng Trị"    # from corpus/metadata.yaml: the text never names it
    qn = docs["quang-nam-cv-2651-ubnd-ktn-2020"].meta
    assert (qn.number, qn.issued.isoformat(), qn.signer, qn.signer_role) == (
        "2651/UBND-KTN", "2020-05-15", "Lê Trí Thanh", "CHỦ TỊCH")
    assert qn.title.startswith("Triển khai thực hiện Kết luận số 70-KL/TW")
    kg = docs["kien-giang-kh-251-ubnd-2023"].meta
    assert (kg.number, kg.issuer, kg.signer) == ("251/KH-UBND", "Ủy ban nhân dân tỉnh Kiên Giang", "Lê Quốc Anh")


def test_legal_text_clauses_by_article_clause_and_point():
    source = (
        "Luật Hợp tác xã\nSố hiệu: 17/2023/QH15 | Cơ quan ban hành: Quốc hội | Ngày ban hành: 20/06/2023\n\n"
        "Chương IV\nĐĂNG KÝ\n\nĐiều 42. Đăng ký thành lập hợp tác xã\n"
        "1.Trước khi hoạt động, người được ủy quyền thực hiện thủ tục đăng ký.\n"
        "2. Hồ sơ đăng ký thành lập bao gồm:\na) Giấy đề nghị đăng ký thành lập;\nđ) Điều lệ;\n"
    )
    doc = parse_text("luat-17", source)
    assert ["Chương IV", "Điều 42", "1"] in paths(doc)
    assert ["Chương IV", "Điều 42", "2", "đ"] in paths(doc)
    assert clause_label(["Chương IV", "Điều 42", "2", "đ"]) == "Điều 42 khoản 2 điểm đ"
    assert (doc.meta.doc_type, doc.meta.number, doc.meta.issuer) == ("Luật", "17/2023/QH15", "Quốc hội")


def test_a_file_without_content_is_a_parse_error():
    with pytest.raises(ParseError):
        parse_text("empty", "\n\n   \n")


def test_a_closing_paragraph_printed_twice_stays_two_clauses():
    # Found by tests/test_fuzz.py: "Trên đây là …" after two sections numbered "1." gave two
    # clauses with the same path, so two chunks with one id.
    doc = parse_text("twice", "1.\nTrên đây là\n1.\nTrên đây là\n")
    assert [s.path for s in doc.sections] == [["1"], ["phần kết"], ["1 (2)"], ["phần kết (2)"]]
