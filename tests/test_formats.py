"""Bring-your-own documents: DOCX, PDF and HTML loaders, legacy encodings, references in
legal texts and intro-plus-points chunks. Every fixture is built here, in code."""
from __future__ import annotations

import codecs
import itertools
import os
import time
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from index.chunking import chunk_document
from index.loaders import decode, decode_tcvn3, read_text
from index.models import Document
from index.references import find_references
from index.structure import ParseError, parse_file, parse_text, visible_text

LAWS = Path(__file__).resolve().parents[2] / "shared" / "laws"

# --- one realistic plan, in every format ------------------------------------------------------

ISSUER = ["ỦY BAN NHÂN DÂN", "HUYỆN VĨNH LINH", "Số: 12/KH-UBND"]
MOTTO = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Vĩnh Linh, ngày 05 tháng 3 năm 2024"]
TITLE = ["KẾ HOẠCH", "Phát triển kinh tế tập thể, hợp tác xã trên địa bàn huyện năm 2024"]
PREAMBLE = ("Thực hiện Kế hoạch số 67-KH/HU ngày 31/01/2023 của Ban Thường vụ Huyện ủy Vĩnh Linh, Ủy ban nhân dân "
            "huyện Vĩnh Linh ban hành Kế hoạch phát triển kinh tế tập thể, hợp tác xã năm 2024 như sau:")
# (numbering label, text): the label is typed in the text files and produced by Word's numbering in the .docx
BODY = [
    ("I.", "MỤC ĐÍCH, YÊU CẦU"),
    ("1.", "Nâng cao hiệu quả hoạt động của các hợp tác xã theo Luật Hợp tác xã số 17/2023/QH15."),
    ("2.", "Huy động các nguồn lực hỗ trợ hợp tác xã phát triển bền vững, gắn với xây dựng nông thôn mới."),
    ("II.", "NHIỆM VỤ, GIẢI PHÁP"),
    ("1.", "Phòng Nông nghiệp và PTNT:"),
    ("a)", "Chủ trì hướng dẫn các hợp tác xã chuyển đổi, tổ chức lại theo khoản 1 Điều 54 Luật Hợp tác xã; "
           "hoàn thành trước ngày 30/6/2024."),
    ("b)", "Tổng hợp, báo cáo kết quả thực hiện về UBND huyện trước ngày 15/12/2024."),
    ("2.", "Phòng Tài chính - Kế hoạch: thẩm định hồ sơ đăng ký thành lập hợp tác xã theo Nghị định số "
           "92/2024/NĐ-CP; hoàn thành trong quý III năm 2024."),
]
CLOSING = "Trên đây là Kế hoạch phát triển kinh tế tập thể, hợp tác xã năm 2024 của UBND huyện Vĩnh Linh."
RECIPIENTS = ["Nơi nhận:", "- Sở Nông nghiệp và PTNT;", "- Thường trực Huyện ủy;", "- Lưu: VT."]
SIGNATURE = ["TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "", "Nguyễn Văn Bình"]

EXPECTED_PATHS = [["mở đầu"], ["I"], ["I", "1"], ["I", "2"], ["II"], ["II", "1"], ["II", "1", "a"],
                  ["II", "1", "b"], ["II", "2"], ["phần kết"]]


def plan_lines() -> list[str]:
    return (ISSUER + MOTTO + [""] + TITLE + ["", PREAMBLE] + [f"{label} {text}" for label, text in BODY]
            + [CLOSING, ""] + RECIPIENTS + SIGNATURE)


def plan_text() -> str:
    return "\n".join(plan_lines()) + "\n"


def assert_is_the_plan(doc: Document) -> None:
    meta = doc.meta
    assert (meta.doc_type, meta.number, meta.issued, meta.locality) == (
        "Kế hoạch", "12/KH-UBND", date(2024, 3, 5), "Vĩnh Linh")
    assert meta.issuer == "Ủy ban nhân dân huyện Vĩnh Linh"
    assert (meta.signer, meta.signer_role) == ("Nguyễn Văn Bình", "PHÓ CHỦ TỊCH")
    assert meta.title == TITLE[1]
    assert meta.recipients[:2] == ["Sở Nông nghiệp và PTNT", "Thường trực Huyện ủy"]
    assert [s.path for s in doc.sections] == EXPECTED_PATHS
    point = next(s for s in doc.sections if s.path == ["II", "1", "a"])
    assert point.text.startswith("a) Chủ trì hướng dẫn các hợp tác xã")
    assert point.text.endswith("hoàn thành trước ngày 30/6/2024.")
    assert "khoản 1 Điều 54 Luật Hợp tác xã" in point.references
    agency = next(s for s in doc.sections if s.path == ["II", "2"])
    assert agency.title.startswith("Phòng Tài chính - Kế hoạch") and "quý III năm 2024" in agency.text
    assert "Nghị định số 92/2024/NĐ-CP" in agency.references
    body = " ".join(s.text for s in doc.sections)
    assert "Nơi nhận" not in body and "Nguyễn Văn Bình" not in body and "CỘNG HÒA" not in body
    for s in doc.sections:
        assert s.text == visible_text(doc.source_text[s.start:s.end])
    for c in chunk_document(doc):
        assert c.text == visible_text(doc.source_text[c.start:c.end])


def test_the_plain_text_version_is_the_reference(tmp_path):
    path = tmp_path / "plan.txt"
    path.write_text(plan_text(), encoding="utf-8")
    assert_is_the_plan(parse_file(path))


# --- DOCX ---------------------------------------------------------------------------------

def _numbered_docx_list(document):
    """A multi-level list defined in numbering.xml: level 0 "I.", level 1 "1.", level 2 "a)"."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    numbering = document.part.numbering_part.element
    levels = [("upperRoman", "%1."), ("decimal", "%2."), ("lowerLetter", "%3)")]
    abstract = parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="90"><w:multiLevelType w:val="multilevel"/>'
        + "".join(f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/>'
                  f'<w:suff w:val="space"/></w:lvl>' for i, (fmt, text) in enumerate(levels))
        + "</w:abstractNum>")
    num = parse_xml(f'<w:num {nsdecls("w")} w:numId="90"><w:abstractNumId w:val="90"/></w:num>')
    first_num = numbering.find(num.tag)
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    numbering.append(num)


def _set_numbering(paragraph, level: int) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    ppr = paragraph._p.get_or_add_pPr()
    ppr.append(parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr>'))


def build_docx(path: Path, tab_layout: bool = False) -> Path:
    import docx

    document = docx.Document()
    _numbered_docx_list(document)
    if tab_layout:
        # header and signature laid out with tabs instead of a table
        for left, right in zip(ISSUER, MOTTO):
            document.add_paragraph(f"{left}\t{right}")
    else:
        header = document.add_table(rows=1, cols=2)
        header.cell(0, 0).text = "\n".join(ISSUER[:2])
        header.cell(0, 0).add_paragraph(ISSUER[2])
        header.cell(0, 1).text = MOTTO[0]
        for line in MOTTO[1:]:
            header.cell(0, 1).add_paragraph(line)
    for line in TITLE:
        document.add_paragraph(line)
    document.add_paragraph(PREAMBLE)
    for label, text in BODY:
        level = {"I.": 0, "II.": 0, "a)": 2, "b)": 2}.get(label, 1)
        _set_numbering(document.add_paragraph(text), level)
    document.add_paragraph(CLOSING)
    if tab_layout:
        for left, right in itertools.zip_longest(RECIPIENTS, SIGNATURE[:3], fillvalue=""):
            document.add_paragraph(f"{left}\t{right}" if right else left)
        document.add_paragraph("\t" + SIGNATURE[-1])
    else:
        sign = document.add_table(rows=1, cols=2)
        sign.cell(0, 0).text = RECIPIENTS[0]
        for line in RECIPIENTS[1:]:
            sign.cell(0, 0).add_paragraph(line)
        sign.cell(0, 1).text = SIGNATURE[0]
        for line in SIGNATURE[1:]:
            sign.cell(0, 1).add_paragraph(line)
    document.save(path)
    return path


def test_docx_with_word_numbering_and_layout_tables(tmp_path):
    doc = parse_file(build_docx(tmp_path / "ke-hoach-12.docx"))
    assert_is_the_plan(doc)
    assert doc.meta.source_format == "docx"
    assert "I. MỤC ĐÍCH, YÊU CẦU" in doc.source_text     # the label comes from numbering.xml


def test_docx_with_header_and_signature_laid_out_with_tabs(tmp_path):
    doc = parse_file(build_docx(tmp_path / "ke-hoach-12-tabs.docx", tab_layout=True))
    assert_is_the_plan(doc)
    assert doc.meta.recipients == ["Sở Nông nghiệp và PTNT", "Thường trực Huyện ủy", "Lưu: VT"]


def test_docx_data_table_is_read_row_by_row_as_the_appendix_table(tmp_path):
    import docx

    document = docx.Document()
    for line in ["ỦY BAN NHÂN DÂN TỈNH HÀ TĨNH", "Số: 45/KH-UBND", "Hà Tĩnh, ngày 10 tháng 02 năm 2022",
                 "KẾ HOẠCH", "Triển khai Kết luận số 70-KL/TW về kinh tế tập thể",
                 "Ủy ban nhân dân tỉnh ban hành Kế hoạch triển khai như sau:",
                 "1. Tuyên truyền, phổ biến chính sách về hợp tác xã.",
                 "PHỤ LỤC", "NHIỆM VỤ CỤ THỂ"]:
        document.add_paragraph(line)
    rows = [("STT", "NHIỆM VỤ", "PHÂN CÔNG TRÁCH NHIỆM"),
            ("1", "Tuyên truyền về kinh tế tập thể", ""),
            ("1.1", "Tổ chức hội nghị phổ biến Luật Hợp tác xã năm 2023", "Sở Kế hoạch và Đầu tư"),
            ("1.2", "Xây dựng chuyên mục trên báo, đài", "Liên minh Hợp tác xã tỉnh")]
    table = document.add_table(rows=len(rows), cols=3)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    path = tmp_path / "phu-luc.docx"
    document.save(path)
    doc = parse_file(path)
    assert "1.1\tTổ chức hội nghị phổ biến Luật Hợp tác xã năm 2023\tSở Kế hoạch và Đầu tư" in doc.source_text
    row = next(s for s in doc.sections if s.path == ["Phụ lục", "1.2"])
    assert row.fields["PHÂN CÔNG TRÁCH NHIỆM"] == "Liên minh Hợp tác xã tỉnh"
    assert row.fields["Nhóm nhiệm vụ"].startswith("1 Tuyên truyền")
    assert (doc.meta.number, doc.meta.issued) == ("45/KH-UBND", date(2022, 2, 10))


def test_docx_style_numbering_bullets_and_merged_cells():
    import io

    import docx

    from index.formats import docx_text

    document = docx.Document()
    document.add_paragraph("Hồ sơ gồm:")
    for text in ["Giấy đề nghị;", "Điều lệ;"]:
        document.add_paragraph(text, style="List Number")     # numbering through the paragraph style
    document.add_paragraph("Lưu ý", style="List Bullet")
    table = document.add_table(rows=3, cols=3)
    for c, value in enumerate(["STT", "NHIỆM VỤ", "PHÂN CÔNG TRÁCH NHIỆM"]):
        table.cell(0, c).text = value
    table.cell(1, 0).text, table.cell(1, 1).text, table.cell(2, 0).text, table.cell(2, 1).text = "1.1", "Rà soát", "1.2", "Báo cáo"
    table.cell(1, 2).merge(table.cell(2, 2)).text = "Sở Nông nghiệp và PTNT"     # one agency for two rows
    buffer = io.BytesIO()
    document.save(buffer)
    text = docx_text(buffer.getvalue(), "x.docx")
    assert "Hồ sơ gồm:\n1. Giấy đề nghị;\n2. Điều lệ;\n- Lưu ý\n" in text
    assert "1.1\tRà soát\tSở Nông nghiệp và PTNT\n1.2\tBáo cáo\tSở Nông nghiệp và PTNT" in text


def test_a_broken_docx_is_a_parse_error_naming_the_file(tmp_path):
    path = tmp_path / "hong.docx"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(ParseError, match="hong.docx"):
        parse_file(path)


# --- PDF ----------------------------------------------------------------------------------

def unicode_font() -> str:
    """A TTF with the Vietnamese letters: Source Sans Pro from the font-source-sans-pro package
    (test extra), else DejaVu Sans from the system or matplotlib."""
    try:
        import font_source_sans_pro

        return font_source_sans_pro.font_files_ttf["SourceSansPro"]
    except (ImportError, KeyError):
        pass
    for candidate in ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]:
        if Path(candidate).is_file():
            return candidate
    try:
        import matplotlib

        return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:
        pytest.skip("no TTF font with Vietnamese letters (install the test extra font-source-sans-pro)")


def build_pdf(path: Path, lines: list[str], running_header: bool = True, width: float = 120) -> Path:
    from fpdf import FPDF

    class Pdf(FPDF):
        def header(self):
            if running_header:
                self.set_font("vn", size=8)
                self.cell(0, 5, "UBND huyện Vĩnh Linh - Kế hoạch 12/KH-UBND", align="C")
                self.ln(8)
                self.set_font("vn", size=12)

        def footer(self):
            self.set_y(-15)
            self.set_font("vn", size=8)
            self.cell(0, 10, str(self.page_no()), align="C")
            self.set_font("vn", size=12)

    pdf = Pdf(format=(148, 210))
    pdf.add_font("vn", fname=unicode_font())
    pdf.set_font("vn", size=12)
    pdf.add_page()
    for line in lines:
        if not line:
            pdf.ln(4)
            continue
        pdf.multi_cell(width, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_pdf_with_running_headers_page_numbers_and_wrapped_lines(tmp_path):
    path = build_pdf(tmp_path / "ke-hoach-12.pdf", plan_lines())
    text = read_text(path)
    assert "UBND huyện Vĩnh Linh - Kế hoạch 12/KH-UBND" not in text          # running header dropped
    assert not any(line.strip().isdigit() for line in text.splitlines())   # page numbers dropped
    doc = parse_file(path)
    assert_is_the_plan(doc)
    assert doc.meta.source_format == "pdf"


ARTICLE_42 = [
    "LUẬT", "HỢP TÁC XÃ", "Số: 17/2023/QH15", "", "Chương IV", "ĐĂNG KÝ HỢP TÁC XÃ", "",
    "Điều 42. Đăng ký thành lập hợp tác xã, liên hiệp hợp tác xã",
    "1. Trước khi hoạt động, người được ủy quyền đăng ký thành lập hợp tác xã, liên hiệp hợp tác xã thực hiện "
    "thủ tục đăng ký thành lập tại cơ quan đăng ký kinh doanh nơi đặt trụ sở chính.",
    "2. Hồ sơ đăng ký thành lập bao gồm:", "a) Giấy đề nghị đăng ký thành lập;", "b) Điều lệ;",
    "c) Nghị quyết hội nghị thành lập;", "d) Danh sách thành viên chính thức, thành viên liên kết góp vốn;",
    "đ) Danh sách, số định danh cá nhân của người đại diện theo pháp luật là người Việt Nam;",
    "e) Bản sao giấy chứng nhận đăng ký đầu tư theo quy định tại điểm b khoản 1 Điều 30 của Luật này;",
    "g) Bản sao giấy chứng nhận đăng ký đầu tư đối với dự án thành lập hợp tác xã, liên hiệp hợp tác xã trong "
    "trường hợp được tham gia thành lập bởi nhà đầu tư nước ngoài.",
    "3. Người được ủy quyền đăng ký thành lập phải kê khai đầy đủ các nội dung quy định tại khoản 2 Điều này.",
]


def test_pdf_of_a_law_keeps_article_clause_and_points(tmp_path):
    doc = parse_file(build_pdf(tmp_path / "luat.pdf", ARTICLE_42, running_header=False, width=100))
    paths = [s.path for s in doc.sections]
    assert [p[-1] for p in paths if p[:-1] == ["Chương IV", "Điều 42", "2"]] == ["a", "b", "c", "d", "đ", "e", "g"]
    g = next(s for s in doc.sections if s.path[-1] == "g")
    assert g.text.endswith("tham gia thành lập bởi nhà đầu tư nước ngoài.")
    assert doc.meta.number == "17/2023/QH15"
    chunk = next(c for c in chunk_document(doc) if c.clause == ["Chương IV", "Điều 42", "2"])
    assert chunk.text.startswith("2. Hồ sơ đăng ký thành lập bao gồm: a) Giấy đề nghị")
    assert "điểm b khoản 1 Điều 30 của Luật này" in chunk.references


def test_pdf_hyphenation_at_line_ends_is_repaired():
    from index.formats import _dehyphenate

    assert _dehyphenate(["hệ thống đăng ký doanh nghiệp và cooper-", "atives của tỉnh"]) == [
        "hệ thống đăng ký doanh nghiệp và cooperatives của tỉnh"]
    assert _dehyphenate(["phát triển kinh tế-", "xã hội"]) == ["phát triển kinh tế-xã hội"]
    assert _dehyphenate(["giai đoạn 2021-", "2025"]) == ["giai đoạn 2021-", "2025"]


def test_a_pdf_without_text_layer_is_reported_as_scanned(tmp_path):
    from fpdf import FPDF
    from PIL import Image

    image = tmp_path / "scan.png"
    Image.new("RGB", (400, 560), "white").save(image)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(image), x=10, y=10, w=180)
    path = tmp_path / "ban-scan.pdf"
    pdf.output(str(path))
    with pytest.raises(ParseError, match=r"ban-scan.pdf.*no text layer \(scanned PDF\?\)"):
        parse_file(path)


def test_a_broken_pdf_is_a_parse_error(tmp_path):
    path = tmp_path / "hong.pdf"
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(1000))
    with pytest.raises(ParseError, match="hong.pdf"):
        parse_file(path)


# --- HTML ---------------------------------------------------------------------------------

def build_html(path: Path, charset: str = "utf-8") -> Path:
    def p(text: str) -> str:
        return f"<p>{text}</p>"

    body = "".join(
        f"<p><b>{label} {text}</b></p>" if label.endswith(".") and label[:-1].isalpha() else p(f"{label} {text}")
        for label, text in BODY)
    page = f"""<!DOCTYPE html><html><head><meta charset="{charset}"><title>Kế hoạch 12/KH-UBND</title>
<style>p {{ margin: 0 }}</style><script>var x = "<p>không phải nội dung</p>";</script></head>
<body><header><a href="/">Trang chủ</a> | Văn bản pháp luật</header>
<nav><ul><li>Tin tức</li><li>Văn bản</li></ul></nav>
<main>
<table><tr><td><p>{ISSUER[0]}<br>{ISSUER[1]}</p><p>{ISSUER[2]}</p></td>
<td><p><b>{MOTTO[0]}</b><br><u>{MOTTO[1]}</u></p><p><i>{MOTTO[2]}</i></p></td></tr></table>
<h3 style="text-align:center">{TITLE[0]}</h3><p>{TITLE[1]}</p>
<p>{PREAMBLE.replace("Ủy ban", "Ủy&nbsp;ban")}</p>
{body}
{p(CLOSING)}
<table><tr><td><p><b><i>Nơi nhận:</i></b><br>{"<br>".join(RECIPIENTS[1:])}</p></td>
<td><p><b>{"<br>".join(SIGNATURE[:3])}</b></p><p>&nbsp;</p><p><b>{SIGNATURE[-1]}</b></p></td></tr></table>
</main>
<footer>Bản quyền © Cổng thông tin điện tử huyện Vĩnh Linh</footer>
</body></html>"""
    path.write_bytes(page.encode(charset))
    return path


def test_html_page_main_text_header_and_signature(tmp_path):
    path = build_html(tmp_path / "ke-hoach-12.html")
    text = read_text(path)
    assert "Trang chủ" not in text and "Tin tức" not in text and "Bản quyền" not in text
    assert "không phải nội dung" not in text and "margin" not in text
    doc = parse_file(path)
    assert_is_the_plan(doc)
    assert doc.meta.source_format == "html"


def test_html_in_windows_1258_with_a_charset_meta(tmp_path):
    path = tmp_path / "ke-hoach-12.htm"
    page = build_html(tmp_path / "utf8.html").read_text(encoding="utf-8").replace('charset="utf-8"',
                                                                                   'charset="windows-1258"')
    path.write_bytes(_cp1258(page))
    assert_is_the_plan(parse_file(path))


def test_html_tables_are_tab_separated_rows():
    from index.formats import html_text

    page = ("<html><body><p>PHỤ LỤC</p><table><tr><th>STT</th><th>NHIỆM VỤ</th><th>PHÂN CÔNG TRÁCH NHIỆM</th></tr>"
            "<tr><td>1.1</td><td><p>Rà soát hợp tác xã</p><p>ngừng hoạt động</p></td><td>UBND các huyện</td></tr>"
            "</table></body></html>").encode()
    assert "STT\tNHIỆM VỤ\tPHÂN CÔNG TRÁCH NHIỆM\n1.1\tRà soát hợp tác xã ngừng hoạt động\tUBND các huyện" \
        in html_text(page, "x.html")


# --- encodings ----------------------------------------------------------------------------

_TONES = "\u0300\u0301\u0303\u0309\u0323"


def _cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: the letter without its tone (ô, ơ, ư…
    are precomposed in the code page), then the tone as a combining mark."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out += (base + "".join(c for c in parts if c in _TONES)).encode("cp1258")
    return bytes(out)


def _tcvn3(text: str) -> bytes:
    from index.loaders import _TCVN3_TABLE

    reverse = {ch: bytes([code]) for code, ch in _TCVN3_TABLE.items() if code >= 0xA1}
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        if ch.isascii():
            out += ch.encode("ascii")
        elif ch in reverse:
            out += reverse[ch]
        elif ch.lower() in reverse:          # .VnTimeH: capitals typed with the lowercase codes
            out += reverse[ch.lower()]
        else:
            raise AssertionError(f"{ch!r} has no TCVN3 code")
    return bytes(out)


def test_windows_1258_text_file(tmp_path):
    data = _cp1258(plan_text())
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert b"\xd2" in data                    # the combining hook above, as cp1258 writes "của"
    path = tmp_path / "ke-hoach-cp1258.txt"
    path.write_bytes(data)
    assert read_text(path) == plan_text()
    assert_is_the_plan(parse_file(path))


def test_tcvn3_text_file(tmp_path):
    # the known pairs of the ABC table
    assert decode_tcvn3("B¶o Th¾ng, M­êng Kh­¬ng, Hîp t¸c x·".encode("latin-1")) == \
        "Bảo Thắng, Mường Khương, Hợp tác xã"
    path = tmp_path / "ke-hoach-tcvn3.txt"
    path.write_bytes(_tcvn3(plan_text()))
    text = read_text(path)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text   # typed in .VnTimeH, re-capitalised
    assert "Vĩnh Linh, ngày 05 tháng 3 năm 2024" in text
    doc = parse_file(path)
    assert (doc.meta.number, doc.meta.issued, doc.meta.doc_type) == ("12/KH-UBND", date(2024, 3, 5), "Kế hoạch")
    assert [s.path for s in doc.sections] == EXPECTED_PATHS


def test_utf16_text_files_with_and_without_bom(tmp_path):
    for name, data in [("le.txt", codecs.BOM_UTF16_LE + plan_text().encode("utf-16-le")),
                       ("be.txt", codecs.BOM_UTF16_BE + plan_text().encode("utf-16-be")),
                       ("nobom.txt", plan_text().encode("utf-16-le"))]:
        path = tmp_path / name
        path.write_bytes(data)
        assert read_text(path) == plan_text(), name
    assert_is_the_plan(parse_file(tmp_path / "le.txt"))


def test_utf8_with_bom_and_undecodable_bytes(tmp_path):
    assert decode(b"\xef\xbb\xbfS\xe1\xbb\x91: 1") == "Số: 1"
    with pytest.raises(ParseError, match="rac.txt.*not UTF-8"):
        decode(bytes(range(128, 256)) * 20, "rac.txt")
    with pytest.raises(ParseError, match="hong.txt: damaged UTF-8"):     # not read as Windows-1258 mojibake
        decode(plan_text().encode("utf-8")[:-3] + b"\xff\xfe" + b"x" * 10 + plan_text().encode("utf-8"), "hong.txt")


def test_mixed_nfc_and_nfd_text_gives_the_same_sections(tmp_path):
    lines = plan_lines()
    mixed = "\n".join(unicodedata.normalize("NFD" if i % 2 else "NFC", line) for i, line in enumerate(lines)) + "\n"
    assert mixed != plan_text() and unicodedata.normalize("NFC", mixed) == plan_text()
    (tmp_path / "nfc.txt").write_text(plan_text(), encoding="utf-8")
    (tmp_path / "mixed.txt").write_text(mixed, encoding="utf-8")
    nfc, mix = parse_file(tmp_path / "nfc.txt"), parse_file(tmp_path / "mixed.txt")
    assert [(s.path, s.text, s.start, s.end) for s in mix.sections] == \
        [(s.path, s.text, s.start, s.end) for s in nfc.sections]
    assert mix.meta.model_dump(exclude={"source_path", "doc_id"}) == nfc.meta.model_dump(exclude={"source_path", "doc_id"})


def test_unsupported_suffix_is_a_parse_error(tmp_path):
    path = tmp_path / "bang.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ParseError, match="unsupported file type"):
        parse_file(path)


# --- references and legal structure -----------------------------------------------------------

def test_references_inside_the_text():
    text = ("e) Bản sao giấy chứng nhận đăng ký đầu tư theo quy định tại điểm b khoản 1 Điều 30 của Luật này; "
            "giải thể theo khoản 1 Điều 54 Luật Hợp tác xã; hướng dẫn tại Nghị định số 45/2021/NĐ-CP và "
            "Nghị quyết số 20-NQ/TW; các khoản 1, 2 và 3 Điều này; Luật Hợp tác xã số 17/2023/QH15.")
    assert find_references(text) == [
        "điểm b khoản 1 Điều 30 của Luật này", "khoản 1 Điều 54 Luật Hợp tác xã", "Nghị định số 45/2021/NĐ-CP",
        "Nghị quyết số 20-NQ/TW", "khoản 1, 2 và 3 Điều này", "Luật Hợp tác xã số 17/2023/QH15"]
    assert find_references("Điều 42. Đăng ký thành lập hợp tác xã") == []     # a heading is not a reference


def test_phan_chuong_dieu_khoan_diem():
    source = ("LUẬT\nHỢP TÁC XÃ\n\nPhần thứ nhất\nQUY ĐỊNH CHUNG\n\nChương I\nPHẠM VI\n\n"
              "Điều 1. Phạm vi điều chỉnh\nLuật này quy định về hợp tác xã.\n\n"
              "Phần thứ hai\nTỔ CHỨC\n\nChương II\nTHÀNH VIÊN\n\nĐiều 30. Thành viên\n"
              "1. Thành viên phải:\na) Là công dân Việt Nam;\nb) Góp vốn theo quy định tại Điều 1 của Luật này.\n")
    doc = parse_text("luat", source)
    paths = [s.path for s in doc.sections]
    assert ["Phần thứ hai", "Chương II", "Điều 30", "1", "b"] in paths
    point = next(s for s in doc.sections if s.path[-1] == "b")
    assert point.references == ["Điều 1 của Luật này"]


def test_a_clause_that_introduces_points_carries_them_in_its_chunk():
    source = ("Luật Hợp tác xã\nSố hiệu: 17/2023/QH15 | Cơ quan ban hành: Quốc hội | Ngày ban hành: 20/06/2023\n\n"
              "Chương IV\nĐĂNG KÝ\n\nĐiều 42. Đăng ký thành lập hợp tác xã\n"
              "1. Trước khi hoạt động, người được ủy quyền thực hiện thủ tục đăng ký.\n"
              "2. Hồ sơ đăng ký thành lập bao gồm:\na) Giấy đề nghị đăng ký thành lập;\nb) Điều lệ;\n"
              "c) Nghị quyết hội nghị thành lập;\n3. Người được ủy quyền kê khai các nội dung tại khoản 2 Điều này.\n")
    doc = parse_text("luat-17", source)
    chunks = chunk_document(doc)
    intro = next(c for c in chunks if c.clause == ["Chương IV", "Điều 42", "2"])
    assert intro.text == ("2. Hồ sơ đăng ký thành lập bao gồm: a) Giấy đề nghị đăng ký thành lập; b) Điều lệ; "
                          "c) Nghị quyết hội nghị thành lập;")
    assert [c.clause[-1] for c in chunks if len(c.clause) == 4] == ["a", "b", "c"]   # points keep their chunks
    three = next(c for c in chunks if c.clause == ["Chương IV", "Điều 42", "3"])
    assert three.text.startswith("3. Người") and three.references == ["khoản 2 Điều này"]
    for c in chunks:
        assert c.text == visible_text(doc.source_text[c.start:c.end])


def test_references_in_the_corpus_plans():
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    doc = parse_file(corpus / "vinh-linh-cv-ubnd-nn-2023.txt")
    section = next(s for s in doc.sections if s.path == ["3", "3.2"])
    assert "khoản 1 Điều 54 Luật Hợp tác xã" in section.references


@pytest.mark.skipif(not LAWS.is_dir(), reason="../shared/laws is not present")
def test_the_cooperative_law_article_42():
    doc = parse_file(LAWS / "luat-hop-tac-xa-17-2023-QH15.txt")
    assert (doc.meta.doc_type, doc.meta.number, doc.meta.issuer) == ("Luật", "17/2023/QH15", "Quốc hội")
    paths = [s.path for s in doc.sections]
    clause = next(p for p in paths if p[1:] == ["Điều 42", "2"])
    points = [p[-1] for p in paths if p[:-1] == clause]
    assert points == ["a", "b", "c", "d", "đ", "e", "g"]
    e = next(s for s in doc.sections if s.path == clause + ["e"])
    assert e.references == ["điểm b khoản 1 Điều 30 của Luật này"]
    references = {r for s in doc.sections for r in s.references}
    assert {"khoản 2 Điều 7 của Luật này", "khoản 1 Điều này", "khoản 5 Điều 115 của Luật này"} <= references
    chunk = next(c for c in chunk_document(doc) if c.clause == clause)
    assert "Hồ sơ đăng ký thành lập bao gồm" in chunk.text and "g) Bản sao giấy chứng nhận" in chunk.text
    for c in chunk_document(doc):
        assert c.text == visible_text(doc.source_text[c.start:c.end])


@pytest.mark.skipif(not LAWS.is_dir(), reason="../shared/laws is not present")
def test_every_law_text_parses_quickly():
    started = time.perf_counter()
    articles = 0
    for path in sorted(LAWS.glob("*.txt")):
        doc = parse_file(path)
        chunk_document(doc)
        articles += len({s.path[s.path.index(p)] for s in doc.sections for p in s.path if p.startswith("Điều ")})
    assert articles >= 300
    assert time.perf_counter() - started < 30
