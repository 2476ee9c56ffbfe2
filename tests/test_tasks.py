"""The task register: every task every document assigns, by agency, with its deadline and clause."""
from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.extract import agency_key
from assistant.tasks import CSV_COLUMNS, same_body

VL_LETTER = "vinh-linh-cv-ubnd-nn-2023"


@pytest.fixture(scope="module")
def register(assistant):
    return assistant.tasks()


def test_every_document_assigns_tasks_and_no_task_comes_from_a_preamble(assistant, register):
    assert {t.doc_id for t in register} == {m.doc_id for m in assistant.documents()}
    assert not [t for t in register if t.clause[0] == "mở đầu"]
    for t in register:
        assert t.role in {"lead", "partner"}
        assert t.summary and t.agency and t.clause_label
        assert t.url == f"/documents/{t.doc_id}#{t.anchor}"


@pytest.mark.parametrize("spelling", [
    "Phòng NN&PTNT",
    "Phòng Nông nghiệp và PTNT",
    "Phòng Nông nghiệp và Phát triển nông thôn",
    "phong nong nghiep va phat trien nong thon",
    "PHÒNG NÔNG NGHIỆP VÀ PTNT HUYỆN",
])
def test_one_agency_whatever_the_spelling(assistant, spelling):
    tasks = assistant.tasks(agency=spelling)
    # The corpus writes "Phòng Nông nghiệp và PTNT" and "Phòng Nông nghiệp và PTNT huyện".
    assert {t.agency_as_written for t in tasks} == {"Phòng Nông nghiệp và PTNT", "Phòng Nông nghiệp và PTNT huyện"}
    assert len({t.agency for t in tasks}) == 1
    assert {t.doc_id for t in tasks} == {VL_LETTER}
    assert len(tasks) == len(assistant.tasks(agency="Phòng NN&PTNT"))


def test_agency_keys_keep_different_bodies_apart():
    assert agency_key("Sở NN&PTNT") == agency_key("Sở Nông nghiệp và Phát triển Nông thôn")
    assert agency_key("Sở KH&ĐT") == agency_key("Sở Kế hoạch và Đầu tư")
    assert agency_key("UBND huyện") == agency_key("Ủy ban nhân dân huyện")
    assert agency_key("Phòng Nông nghiệp và PTNT") != agency_key("Sở Nông nghiệp và PTNT")
    assert agency_key("UBND huyện") != agency_key("UBND tỉnh")
    assert agency_key("Phòng Tài chính - Kế hoạch huyện") == agency_key("Phòng Tài chính – Kế hoạch")


def test_an_addressee_heading_assigns_each_bullet_with_its_own_deadline(assistant):
    tasks = assistant.tasks(agency="Phòng Tài chính - Kế hoạch", locality="Vĩnh Linh")
    in_32 = [t for t in tasks if t.clause == ["3", "3.2"]]
    # Three bullets under "3.2. Phòng Tài chính - Kế hoạch huyện:", the third in the second
    # piece of the split clause, each with the deadline printed after it.
    assert [t.deadline for t in in_32] == [
        "Thực hiện hàng năm, giai đoạn", "trong quý I năm 2023", "Hoàn thành trong quý III năm 2023"]
    assert all(t.role == "lead" and t.clause_label == "mục 3.2" and t.locality == "Vĩnh Linh" for t in in_32)
    assert "giải thể bắt buộc" in in_32[2].summary
    assert in_32[2].url == f"/documents/{VL_LETTER}#s-3-3.2"


def test_chu_tri_phoi_hop_voi_gives_a_lead_and_a_partner(assistant):
    tasks = [t for t in assistant.tasks(locality="Quảng Nam") if t.clause == ["5"]]
    roles = {(t.agency, t.role) for t in tasks}
    assert roles == {("Sở Tài chính", "lead"), ("Liên minh Hợp tác xã tỉnh", "partner")}
    lead = next(t for t in tasks if t.role == "lead")
    assert lead.coordinates_with == ["Liên minh Hợp tác xã tỉnh"]
    assert lead.summary.startswith("Chủ trì, phối hợp với Liên minh Hợp tác xã tỉnh")


def test_the_appendix_table_assigns_rows_to_its_responsibility_column(assistant):
    tasks = [t for t in assistant.tasks(locality="Hà Tĩnh") if t.clause == ["Phụ lục", "1.2"]]
    assert {t.agency for t in tasks} == {"Đài Phát thanh - Truyền hình tỉnh", "Báo Hà Tĩnh"}
    assert all(t.role == "lead" for t in tasks)


def test_one_places_body_meets_its_counterpart_in_another_place(assistant):
    retriever = assistant.retriever

    def bodies(doc_id: str, clause: list[str]) -> frozenset[str]:
        return retriever.bodies(next(c for c in retriever.chunks if c.doc_id == doc_id and c.clause == clause))

    quang_nam = bodies("quang-nam-cv-2651-ubnd-ktn-2020", ["7"])         # Báo Quảng Nam, Đài PT-TH Quảng Nam, …
    ha_tinh_media = bodies("ha-tinh-kh-ubnd-2022", ["Phụ lục", "1.2"])     # Đài PT-TH tỉnh, Báo Hà Tĩnh
    ha_tinh_everyone = bodies("ha-tinh-kh-ubnd-2022", ["Phụ lục", "1.1"])  # Các sở, ban, ngành; UBND các huyện
    assert {"bao", "dai phat thanh truyen hinh"} <= quang_nam & ha_tinh_media
    assert not ha_tinh_everyone
    assert same_body("so tai chinh chu tri", "so tai chinh") and not same_body("so tai chinh", "so noi vu")


def test_a_closing_assignment_giao_x_chu_tri(assistant):
    closing = [t for t in assistant.tasks(agency="Phòng NN&PTNT") if t.clause == ["phần kết"]]
    assert closing and closing[0].role == "lead"
    partners = [t for t in assistant.tasks(agency="Văn phòng HĐND và UBND huyện") if t.clause == ["phần kết"]]
    assert [t.role for t in partners] == ["partner"]


def test_filters_by_locality_or_province_with_or_without_diacritics(assistant, register):
    ha_tinh = assistant.tasks(locality="Hà Tĩnh")
    assert ha_tinh and {t.doc_id for t in ha_tinh} == {"ha-tinh-kh-ubnd-2022"}
    # Vĩnh Linh is a district of Quảng Trị: the province finds its tasks.
    assert assistant.tasks(locality="quang tri") == assistant.tasks(locality="Vĩnh Linh")
    assert assistant.tasks(locality="Đà Nẵng") == []
    assert assistant.tasks(agency="Sở Tư pháp") == []
    both = assistant.tasks(agency="Sở Kế hoạch và Đầu tư", locality="Quảng Nam")
    assert both and all(t.doc_id.startswith("quang-nam") and t.agency == "Sở Kế hoạch và Đầu tư" for t in both)
    assert len(assistant.tasks(agency=None, locality=None)) == len(register)


def test_htx_tasks_csv(built_index):
    result = CliRunner().invoke(cli, ["tasks", "--agency", "tai chinh", "--csv", "--index", str(built_index)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert body
    assert {r["agency"] for r in body} == {"Phòng Tài chính - Kế hoạch huyện", "Sở Tài chính"}
    dissolution = next(r for r in body if "giải thể" in r["summary"])
    assert dissolution["deadline"] == "Hoàn thành trong quý III năm 2023"
    assert dissolution["clause_label"] == "mục 3.2" and dissolution["locality"] == "Vĩnh Linh"


def test_htx_tasks_lists_tasks_readably(built_index):
    result = CliRunner().invoke(cli, ["tasks", "--agency", "Sở Tài chính", "--index", str(built_index)])
    assert result.exit_code == 0
    assert "Sở Tài chính (chủ trì): Chủ trì, phối hợp với Liên minh Hợp tác xã tỉnh" in result.output
    assert "Công văn số 2651/UBND-KTN" in result.output and "mục 5" in result.output


LAW = """LUẬT
HỢP TÁC XÃ

Điều 62. Giám đốc hợp tác xã
1. Giám đốc hợp tác xã là người điều hành hoạt động hằng ngày của hợp tác xã.
2. Chi nhánh là đơn vị phụ thuộc của hợp tác xã, có nhiệm vụ thực hiện toàn bộ hoặc một phần chức năng của hợp tác xã.
"""

PLAN = """KẾ HOẠCH
Phát triển kinh tế tập thể năm 2024

I. NHIỆM VỤ
1. Phòng Nông nghiệp và PTNT chủ trì hướng dẫn thành lập hợp tác xã mới (hoàn thành trong quý II năm 2024).
"""


def test_laws_lay_down_rules_and_stay_out_of_the_register():
    from assistant.tasks import build_register
    from index.chunking import chunk_document
    from index.structure import parse_text

    law, plan = parse_text("luat-htx", LAW), parse_text("ke-hoach-2024", PLAN)
    assert law.meta.doc_type == "Luật" and plan.meta.doc_type == "Kế hoạch"
    chunks = chunk_document(law) + chunk_document(plan)
    register = build_register(chunks, {d.doc_id: d.meta for d in (law, plan)})
    # The law's roles ("Giám đốc", "Chi nhánh") are not agencies given work.
    assert {t.doc_id for t in register} == {"ke-hoach-2024"}
    assert [t.agency for t in register] == ["Phòng Nông nghiệp và PTNT"]
    assert register[0].deadline and "quý II năm 2024" in register[0].deadline


def test_tasks_under_a_dated_group_carry_the_groups_deadline(assistant):
    # "1. Tăng cường tuyên truyền … (hoàn thành trong quý I năm 2023)." dates 1.1 and 1.2,
    # and "2. … (thực hiện hàng năm, từ năm 2023)" outranks 2.1's passing "thường xuyên rà soát".
    tasks = [t for t in assistant.tasks(locality="Vĩnh Linh") if t.doc_id == VL_LETTER]
    by_clause = {}
    for t in tasks:
        by_clause.setdefault(t.clause_label, set()).add(t.deadline)
    assert by_clause["mục 1.1"] == {"hoàn thành trong quý I năm 2023"}
    assert by_clause["mục 1.2"] == {"hoàn thành trong quý I năm 2023"}
    assert by_clause["mục 2.1"] == {"thực hiện hàng năm, từ năm 2023"}
    # A task's own explicit date still wins over its group's.
    assert by_clause["mục 2.3"] == {"trước ngày 15/12 hàng năm"}
