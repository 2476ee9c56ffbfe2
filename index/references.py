"""References inside a text to other provisions and documents.

Legal and administrative texts cite each other in a few fixed shapes: a provision from the
point up ("điểm b khoản 1 Điều 30 của Luật này", "khoản 1 Điều 54 Luật Hợp tác xã", "các khoản
1, 2 và 3 Điều này", "tại khoản 2"), and documents by type and number ("Nghị định số
45/2021/NĐ-CP", "Nghị quyết số 20-NQ/TW", "Luật Hợp tác xã số 17/2023/QH15"). Each is kept as
printed (whitespace collapsed), in order of appearance, once.
"""
from __future__ import annotations

import re

_SEP = r"\s*(?:,|và|hoặc|đến)\s*"
_POINT = rf"(?i:điểm)\s+[a-zđ]\b(?:{_SEP}(?:(?i:điểm)\s+)?[a-zđ]\b)*"
_CLAUSE = rf"(?i:khoản)\s+\d+\b(?:{_SEP}(?:(?i:khoản)\s+)?\d+\b)*"
_ARTICLE = rf"Điều\s+\d+[a-z]?\b(?:{_SEP}(?:Điều\s+)?\d+[a-z]?\b)*"
# Document numbers: 45/2021/NĐ-CP, 20-NQ/TW, 17/2023/QH15, 246/2006/QĐ-TTg, 2651/UBND-KTN, 67-KH/HU
_NUMBER = r"\d+(?:/\d{4})?(?:[/-][A-ZĐ0-9]+)*?[/-][A-ZĐ][A-ZĐ0-9]*(?:[-/][A-ZĐa-zđ0-9]+)*"
_DOC_TYPES = (r"(?:Bộ luật|Luật|Pháp lệnh|Nghị định|Nghị quyết|Thông tư liên tịch|Thông tư|Quyết định|Chỉ thị|"
              r"Kết luận|Kế hoạch|Công văn|Thông báo|Hướng dẫn|Chương trình)")
# Words that end the name of a law ("Luật Hợp tác xã[ năm 2023]", "Luật Đất đai[ và]").
_STOP = (r"(?:về|và|thì|nộp|kèm|gửi|cấp|làm|thực|ban|được|có|đã|để|của|theo|trong|năm|số|hoặc|phải|này|như|tại|với|cho|là|khi|đối|thuộc|"
         r"quy|các|những|sau|trước|mà|không|từ|đến|ngày|do|nay|hiện|gồm|bao|đang|sẽ|vẫn|trên|dưới)")
# The names of the laws these documents cite, longest first; any other name is read up to a stop word.
_KNOWN_LAWS = sorted([
    "Hợp tác xã", "HTX", "Doanh nghiệp", "Đầu tư công", "Đầu tư", "Ngân sách nhà nước", "Quản lý thuế",
    "Thuế thu nhập doanh nghiệp", "Thuế thu nhập cá nhân", "Thuế giá trị gia tăng", "Phí và lệ phí",
    "Các tổ chức tín dụng", "Tổ chức tín dụng", "Kế toán", "Kiểm toán độc lập", "Phá sản", "Đất đai",
    "Lao động", "Bảo hiểm xã hội", "Bảo hiểm y tế", "Quản lý, sử dụng tài sản công", "Đấu thầu",
    "Tổ chức chính quyền địa phương", "Ban hành văn bản quy phạm pháp luật", "Trồng trọt", "Chăn nuôi",
    "Lâm nghiệp", "Thủy sản", "Cạnh tranh", "Thương mại", "Dân sự",
], key=len, reverse=True)
_LAW_NAME = ("(?:" + "|".join(re.escape(name) for name in _KNOWN_LAWS) + r")\b"
             + rf"|[A-ZĐÀ-Ỹ][^\W\d_]*(?:\s+(?!{_STOP}\b)[^\W\d_]+){{0,3}}")
_DOC = (rf"(?:(?:Bộ luật|Luật)\s+(?:này|{_LAW_NAME}(?:\s+số\s+{_NUMBER})?)"
        rf"|{_DOC_TYPES}\s+(?:này|(?:số\s+)?{_NUMBER}))")
_PROVISION = (rf"(?:{_POINT}\s+(?:của\s+)?)?(?:{_CLAUSE}\s+(?:của\s+)?)?{_ARTICLE}(?:\s+(?:của\s+)?{_DOC})?"
              rf"|(?:{_POINT}\s+(?:của\s+)?)?{_CLAUSE}\s+(?:của\s+)?Điều\s+này"
              rf"|(?:(?<=tại )|(?<=theo )|(?<=Tại )|(?<=Theo ))(?:{_POINT}\s+(?:của\s+)?)?{_CLAUSE}"
              rf"|(?:(?<=tại )|(?<=theo )|(?<=Tại )|(?<=Theo )){_POINT}")
_DOCUMENT = rf"{_DOC_TYPES}(?:\s+{_LAW_NAME})?\s+(?:số\s+)?{_NUMBER}"
_REFERENCE = re.compile(rf"(?:{_PROVISION}|{_DOCUMENT})")


def find_references(text: str) -> list[str]:
    """The references in `text`, in order, each once. A heading at the start of the text
    ("Điều 42. Đăng ký…") is the section itself, not a reference."""
    found: list[str] = []
    for m in _REFERENCE.finditer(text):
        if m.start() == 0 and text[m.end():m.end() + 1] in (".", ":"):
            continue
        ref = " ".join(m.group(0).split())
        if ref not in found:
            found.append(ref)
    return found
