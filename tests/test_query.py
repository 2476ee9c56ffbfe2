"""How a question is understood: language, intent, localities, and the Vietnamese wording
added so it meets the documents."""
from __future__ import annotations

import re
from pathlib import Path

import bm25s
import numpy as np
import pytest
import yaml

from assistant.query import INTENTS, Query, load_abbreviations, load_glossary, understand
from index.normalize import fold, tokenize

from conftest import SHARED

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DATA = ROOT / "assistant" / "data"
LOCALITIES = ["Vĩnh Linh", "Hà Tĩnh", "Kiên Giang", "Quảng Nam", "Quảng Trị"]


def _corpus_text() -> str:
    text = " ".join(fold(p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.txt")))
    return re.sub(r"\s+", " ", text)


def _occurs(phrase: str, text: str) -> bool:
    wanted = re.escape(" ".join(fold(phrase).split()))
    return re.search(rf"(?<!\w){wanted}(?!\w)", text) is not None


# ---------------------------------------------------------------- the three ways of asking


def test_english_question_gets_vietnamese_terms():
    query = understand("Who handles HTX dissolution in Vĩnh Linh?", LOCALITIES)
    assert query.language == "en"
    assert {"giải thể", "hợp tác xã", "chủ trì"} <= set(query.expansions)
    assert "giải thể" in query.dense_text and query.dense_text.startswith(query.original)
    assert "giải thể" in query.lexical_text


def test_vietnamese_question_is_embedded_as_asked():
    query = understand("Ai phụ trách giải thể HTX ở Vĩnh Linh?", LOCALITIES)
    assert query.language == "vi"
    assert query.dense_text == query.original
    assert query.expansions == ["hợp tác xã"]


def test_question_without_diacritics_is_vietnamese():
    query = understand("ai phu trach giai the htx o vinh linh", LOCALITIES)
    assert query.language == "vi"
    assert query.has_diacritics is False
    assert query.intent == "who"
    assert query.localities == ["Vĩnh Linh"]


@pytest.mark.parametrize(
    "question",
    [
        "ai phu trach giai the htx o vinh linh",
        "Ai phụ trách giải thể HTX ở Vĩnh Linh?",
        "Who handles HTX dissolution in Vĩnh Linh?",
    ],
)
def test_three_ways_of_asking_rank_the_dissolution_clause_first(question):
    # The Vĩnh Linh letter, cut at its numbered points and dashes, searched with BM25 the
    # way the retriever does: lexical_text tokenized by the same tokenize as the documents.
    text = re.sub(r"\s*\n\s*\n\s*", " ", (CORPUS / "vinh-linh-cv-ubnd-nn-2023.txt").read_text(encoding="utf-8"))
    passages = [p.strip() for p in re.split(r"(?=\s\d+\.\d+\.\s)|(?=\s- )", text) if p.strip()]
    bm25 = bm25s.BM25()
    bm25.index([tokenize(p) or ["_"] for p in passages], show_progress=False)
    scores = bm25.get_scores(tokenize(understand(question, LOCALITIES).lexical_text))
    best = passages[int(np.argmax(scores))]
    assert "giải thể tự nguyện" in best


def test_original_is_the_normalized_question():
    query = understand("  Uỷ ban nhân dân huyện\u200b nào phụ trách?  ")
    assert query.original == "Ủy ban nhân dân huyện nào phụ trách?"
    assert query.has_diacritics is True


def test_empty_question_is_general_and_empty():
    query = understand("   ")
    assert query == Query(original="")
    assert query.intent == "general" and query.lexical_text == "" and query.dense_text == ""


# ---------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Đến năm 2030, huyện Vĩnh Linh phấn đấu có bao nhiêu HTX?", "vi"),
        ("kinh te tap the la gi", "vi"),
        ("han chot bao cao ket qua thuc hien o vinh linh", "vi"),
        ("What is Kiên Giang's 2030 target for cooperatives?", "en"),
        ("How many cooperatives in Quảng Nam?", "en"),
        ("deadline?", "en"),
        ("HTX in Vinh Linh", "en"),
    ],
)
def test_language_is_detected_from_the_words_around_names_and_abbreviations(question, language):
    assert understand(question, LOCALITIES).language == language


# ---------------------------------------------------------------- intent


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("Ai chủ trì hướng dẫn vay vốn Quỹ hỗ trợ phát triển HTX?", "who"),
        ("o vinh linh phong nao theo doi don doc", "who"),
        ("Cơ quan nào tham mưu kiện toàn Ban Chỉ đạo?", "who"),
        ("Which Hà Tĩnh department helps cooperatives go digital?", "who"),
        ("Khi nào phải hoàn thành việc sáp nhập HTX?", "when"),
        ("han chot bao cao ket qua thuc hien", "when"),
        ("Báo cáo phải gửi trước ngày nào?", "when"),
        ("By when must the report be sent?", "when"),
        ("Mỗi năm phải thành lập mới bao nhiêu HTX?", "how_many"),
        ("kien giang phan dau bao nhieu phan tram htx", "how_many"),
        ("What percentage of cooperatives should join value chains?", "how_many"),
        ("What is the 2030 target for cooperatives?", "how_many"),
        # "mấy quỹ đó" is "those funds", not "how many funds".
        ("Thế khi quản lý mấy quỹ đó thì họ phải phối hợp với ai?", "who"),
        ("Thành lập tổ hợp tác theo nghị định nào?", "rule"),
        ("ha tinh ngan hang cho vay theo nghi dinh nao", "rule"),
        ("Thủ tục giải thể HTX cần hồ sơ gì?", "rule"),
        ("Which law governs cooperative dissolution?", "rule"),
        ("What documents are needed to register a cooperative?", "rule"),
        ("Kế hoạch 67-KH/HU được ban hành để thực hiện những văn bản nào?", "general"),
        ("What is the overall goal of the plan?", "general"),
    ],
)
def test_intent_who_when_how_many_rule(question, intent):
    assert understand(question, LOCALITIES).intent == intent


def test_the_question_word_beats_a_hint():
    # "tỷ lệ" and "hoàn thành" only hint; the question words ask who and when.
    assert understand("Báo cáo tỷ lệ HTX hoàn thành do ai lập?").intent == "who"
    assert understand("bao cao ty le htx phai hoan thanh khi nao").intent == "when"
    # two question words: the first one is what is asked
    assert understand("Khi nào và phòng nào phải báo cáo?").intent == "when"


def test_a_different_diacritic_is_not_a_cue():
    # "số nào" (which number) is not "sở nào" (which department).
    assert understand("Kế hoạch số nào?").intent != "who"
    assert understand("Sở nào?").intent == "who"


def test_every_intent_is_one_of_the_documented_values():
    for question in ["", "xin chào", "ai", "bao nhieu", "when", "luật nào"]:
        assert understand(question).intent in INTENTS


# ---------------------------------------------------------------- localities


@pytest.mark.parametrize("typed", ["vinh linh", "VINH LINH", "Vĩnh Linh", "vĩnh linh's", "Vĩnh linh"])
def test_locality_detected_without_diacritics(typed):
    assert understand(f"HTX ở {typed} có bao nhiêu?", LOCALITIES).localities == ["Vĩnh Linh"]


def test_locality_typed_with_other_diacritics_is_a_different_place():
    assert understand("xã Vĩnh Ô có mấy HTX", ["Vinh"]).localities == []
    assert understand("thanh pho vinh", ["Vinh"]).localities == ["Vinh"]


def test_longer_locality_wins_and_order_follows_the_question():
    query = understand("so sánh Hà Tĩnh với vinh linh", ["Vinh", "Vĩnh Linh", "Hà Tĩnh"])
    assert query.localities == ["Hà Tĩnh", "Vĩnh Linh"]


def test_locality_must_be_a_whole_word():
    assert understand("Vĩnh Linhxyz", LOCALITIES).localities == []


# ---------------------------------------------------------------- abbreviations


def test_abbreviations_expand_whatever_the_case_and_diacritics():
    assert understand("htx o vinh linh").expansions == ["hợp tác xã"]
    assert understand("Sở KH&ĐT tỉnh").expansions == ["kế hoạch và đầu tư"]
    assert understand("so kh&dt tinh").expansions == ["kế hoạch và đầu tư"]
    assert understand("nghi quyet cua HDND tinh").expansions == ["hội đồng nhân dân"]


def test_abbreviations_inside_other_words_are_not_expanded():
    assert "kế hoạch" not in understand("Bộ KHĐT hướng dẫn").expansions
    assert understand("khó khăn kho bạc").expansions == []


def test_abbreviation_that_is_also_a_syllable_needs_capitals():
    assert "tỉnh ủy" not in understand("tu nam 2023 den nay").expansions
    assert "tỉnh ủy" in understand("Chương trình 47-CTr/TU").expansions


def test_document_number_codes_expand_as_tokens():
    expansions = understand("Kế hoạch 67-KH/HU").expansions
    assert "huyện ủy" in expansions
    assert "kế hoạch" not in expansions        # already in the question


def test_expansion_already_in_the_question_is_not_repeated():
    assert understand("hợp tác xã (HTX) ở Vĩnh Linh").expansions == []
    assert understand("hop tac xa (HTX) o vinh linh").expansions == []


def test_expansions_of_an_unaccented_question_are_unaccented_in_the_lexical_text():
    query = understand("giai the htx")
    assert query.expansions == ["hợp tác xã"]
    assert query.lexical_text == "giai the htx\nhop tac xa"


# ---------------------------------------------------------------- glossary


def test_glossary_takes_the_longest_phrase_first():
    expansions = understand("Which department of planning and investment is in charge?").expansions
    assert "sở kế hoạch và đầu tư" in expansions
    assert "phòng" not in expansions           # "department" alone was not matched again


def test_glossary_matches_plurals_verb_forms_and_british_spelling():
    expansions = understand("cooperatives dissolved, collective economic organisations merging").expansions
    assert {"hợp tác xã", "giải thể", "tổ chức kinh tế tập thể", "sáp nhập"} <= set(expansions)
    assert "cơ cấu tổ chức" in understand("Who advises on their organisational structure?").expansions


def test_glossary_reads_a_slash_between_words_as_or():
    assert {"tốt", "khá"} <= set(understand("What's Vĩnh Linh's good/fair figure for co-ops?").expansions)


def test_glossary_matches_whole_words_only():
    expansions = understand("Who gets a refund for the landmark?").expansions
    assert "quỹ" not in expansions and "đất đai" not in expansions


def test_english_words_in_a_vietnamese_question_are_translated_only_when_unmistakable():
    assert "thời hạn" in understand("deadline nop bao cao o vinh linh").expansions
    # "loan" is also unaccented Vietnamese (loạn, Loan)
    assert "vay vốn" not in understand("chi Loan o vinh linh hoi").expansions


def test_glossary_has_at_least_80_entries():
    assert len(load_glossary()) >= 80


# ---------------------------------------------------------------- reviewed data


def _section(name: str, section: str) -> dict:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))[section]


def test_reviewed_glossary_terms_are_worded_as_in_the_corpus():
    corpus = _corpus_text()
    missing = {
        english: phrase
        for english, phrases in _section("glossary.yaml", "reviewed").items()
        for phrase in phrases
        if not _occurs(phrase, corpus)
    }
    assert missing == {}


# The law texts are not committed; where they are checked out next to the repository, every
# `laws` phrase of the glossary must be worded so in them.
LAWS = SHARED / "laws"


@pytest.mark.skipif(not LAWS.is_dir(), reason="../shared/laws is not checked out")
def test_laws_glossary_terms_are_worded_as_in_the_law_texts():
    laws = re.sub(r"\s+", " ", " ".join(fold(p.read_text(encoding="utf-8")) for p in sorted(LAWS.glob("*.txt"))))
    missing = {
        english: phrase
        for english, phrases in _section("glossary.yaml", "laws").items()
        for phrase in phrases
        if not _occurs(phrase, laws)
    }
    assert missing == {}


def test_laws_glossary_terms_are_used():
    expansions = understand("Must the general meeting approve the charter capital and the financial statements?").expansions
    assert {"đại hội thành viên", "vốn điều lệ", "báo cáo tài chính"} <= set(expansions)
    assert "điều lệ" not in expansions          # "charter capital" was taken whole, not "charter" again


def test_reviewed_abbreviations_occur_in_the_corpus():
    raw = " ".join(p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt"))
    missing = [a for a in _section("abbreviations.yaml", "reviewed") if not re.search(rf"(?<!\w){re.escape(a)}(?!\w)", raw)]
    assert missing == []


def test_data_files_load_once_and_join_both_sections():
    assert load_glossary() is load_glossary()
    assert load_abbreviations()["TT"] == ("thông tư", "thường trực")
    assert "tổ hợp tác" in load_abbreviations()["THT"]          # unreviewed entries are used too
    assert set(load_glossary()["deadline"]) >= {"hoàn thành", "thời hạn"}


@pytest.mark.parametrize("question, kinds", [
    ("Kế hoạch của Huyện ủy Vĩnh Linh có yêu cầu phân công kiểu này không?", ["ke hoach"]),
    ("what about Vĩnh Linh's plan?", ["ke hoach"]),
    ("theo cong van cua UBND huyen, ai chu tri?", ["cong van"]),
    ("what role does the letter give co-ops?", ["cong van"]),
    # A plan a duty is about is not the document asked about.
    ("Ai xây dựng kế hoạch phát triển KTTT hàng năm ở Vĩnh Linh?", []),
])
def test_a_document_named_by_its_type_is_recognised(question, kinds):
    assert understand(question).document_kinds == kinds


@pytest.mark.parametrize("question, flag, asks", [
    # Who issued the document, or when.
    ("Kế hoạch 67-KH/HU của Vĩnh Linh do ai ban hành?", "asks_issuer", True),
    ("ke hoach do do huyen uy hay ubnd ban hanh", "asks_issuer", True),
    ("Công văn 2651 ký ngày nào?", "asks_issuer", True),
    ("Who's behind Quảng Nam's letter 2651?", "asks_issuer", True),
    ("Which body issued Hà Tĩnh's plan?", "asks_issuer", True),
    # A duty whose outcome is an issued text is no question about who issued the document.
    ("Phòng nào tham mưu UBND huyện ban hành?", "asks_issuer", False),
    ("ai tham muu ban hanh co che chinh sach ho tro htx", "asks_issuer", False),
    ("UBND tỉnh ban hành kế hoạch nào để thực hiện?", "asks_issuer", False),
    # A sum of money.
    ("Lệ phí đăng ký thành lập hợp tác xã là bao nhiêu tiền?", "asks_money", True),
    ("htx moi thanh lap duoc ho tro bao nhieu trieu", "asks_money", True),
    ("giam doc htx dc huong phu cap bao nhieu 1 thang", "asks_money", True),
    ("How much does the province pay farmers per hectare?", "asks_money", True),
    ("What is the maximum loan a cooperative can get?", "asks_money", True),
    ("What total budget did Quang Nam allocate to co-op support?", "asks_money", True),
    # Counts and shares, and a money word asked when, are not sums asked for.
    ("Đến năm 2030 có bao nhiêu HTX được vay vốn?", "asks_money", False),
    ("số lượng HTX bao nhiêu", "asks_money", False),
    ("uu tien phat trien o may xa", "asks_money", False),
    ("Đương sự nộp tiền tạm ứng án phí, lệ phí khi nào?", "asks_money", False),
    ("how much of the population should join collective economic organisations?", "asks_money", False),
    ("Who must set aside provincial budget funds each year for cooperative support policies?", "asks_money", False),
])
def test_what_a_question_asks_about_the_document_or_a_sum_is_recognised(question, flag, asks):
    assert getattr(understand(question), flag) is asks


@pytest.mark.parametrize("question, spelled", [
    ("toi 2030 tong cong dc khoang bn htx", "toi 2030 tong cong duoc khoang bao nhieu htx"),
    ("co uu tien dia ban nao k", "co uu tien dia ban nao khong"),
    ("ai phu trach j o vinh linh", "ai phu trach gi o vinh linh"),
    ("phai bc xong truoc khi nao", "phai bao cao xong truoc khi nao"),
    # "50k" is fifty thousand, "bn ơi" is "bạn ơi", and English keeps its words.
    ("phi 50k dc ko", "phi 50k duoc khong"),
    ("bn oi cho hoi htx", "bn oi cho hoi htx"),
    ("điểm k khoản 1 Điều 4 quy định gì", "điểm k khoản 1 Điều 4 quy định gì"),
    ("What about Ha Tinh vs Kien Giang?", "What about Ha Tinh vs Kien Giang?"),
])
def test_phone_shorthand_is_spelled_out_in_vietnamese_questions(question, spelled):
    assert understand(question).original == spelled
