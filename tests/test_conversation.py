"""Follow-up questions in a chat are understood in the context of the previous one."""
from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.chat_store import ConversationStore
from assistant.conversation import Turn, rewrite
from assistant.query import understand

PLACES = ["Vĩnh Linh", "Hà Tĩnh", "Quảng Nam", "Kiên Giang"]


def chat(*messages: str) -> list[tuple[str, bool]]:
    previous, out = None, []
    for message in messages:
        result = rewrite(message, previous, PLACES)
        out.append((result.question, result.rewritten))
        previous = result.turn
    return out


def test_a_new_locality_carries_the_question_over():
    (_, _), (question, rewritten) = chat("Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?", "còn ở Hà Tĩnh thì sao?")
    assert rewritten
    assert question == "Ai phụ trách hướng dẫn thành lập HTX ở Hà Tĩnh?"


def test_a_question_fragment_asks_about_the_previous_topic_and_place():
    turns = chat("Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?", "hạn chót là khi nào?")
    assert turns[1] == ("Hướng dẫn thành lập HTX ở Vĩnh Linh: hạn chót là khi nào?", True)


def test_an_acknowledgement_before_a_follow_up_is_not_part_of_it():
    # "it" in "got it" points at nothing: the question is one of its own, asked in the chat's place.
    turns = chat("Which Hà Tĩnh department trains co-op managers in digital skills?",
                 "got it. who's meant to advise on reorganising the provincial co-op alliance?")
    assert turns[1] == ("who's meant to advise on reorganising the provincial co-op alliance in Hà Tĩnh?", True)
    turns = chat("Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?", "Ừ, còn ở Hà Tĩnh thì sao?")
    assert turns[1] == ("Ai phụ trách hướng dẫn thành lập HTX ở Hà Tĩnh?", True)


def test_without_diacritics_and_in_english():
    # The place is written as the user writes: the retriever restores diacritics only in a
    # question that has none at all.
    turns = chat("ai phu trach giai the htx o vinh linh", "con o ha tinh thi sao", "con vinh linh")
    assert turns[1] == ("ai phu trach giai the htx o Ha Tinh", True)
    assert turns[2] == ("ai phu trach giai the htx o Vinh Linh", True)
    turns = chat("Who handles HTX dissolution in Vĩnh Linh?", "and in Hà Tĩnh?")
    assert turns[1] == ("Who handles HTX dissolution in Hà Tĩnh?", True)


def test_a_new_topic_keeps_the_place_and_the_kind_of_question():
    turns = chat("Ở Hà Tĩnh, cơ quan nào phụ trách xúc tiến thương mại cho HTX?", "còn quỹ hỗ trợ thì sao?")
    assert turns[1] == ("Cơ quan nào phụ trách quỹ hỗ trợ ở Hà Tĩnh?", True)


def test_a_question_of_its_own_after_a_marker_keeps_its_wording():
    turns = chat("Ở Vĩnh Linh, ai chủ trì xây dựng liên hiệp hợp tác xã?",
                 "thế còn Kiên Giang, mục tiêu có mấy liên hiệp HTX?", "thế còn ai chủ trì quỹ hỗ trợ?")
    assert turns[1] == ("Kiên Giang, mục tiêu có mấy liên hiệp HTX?", True)
    assert turns[2] == ("ai chủ trì quỹ hỗ trợ ở Kiên Giang?", True)


def test_only_the_question_word_is_the_cue_later_duty_words_stay_in_the_topic():
    turns = chat("Phòng nào ở huyện Vĩnh Linh chủ trì tham mưu phát triển liên kết sản xuất?", "còn quỹ hỗ trợ?")
    assert turns[1] == ("Phòng nào phụ trách quỹ hỗ trợ ở Vĩnh Linh?", True)
    # Unaccented "to chuc" is tổ chức, not the English filler "to".
    turns = chat("ha tinh ai to chuc cac lop tap huan cho hop tac xa", "han chot khi nao")
    assert turns[1] == ("To chuc cac lop tap huan cho hop tac xa o Ha Tinh: han chot khi nao?", True)


def test_a_question_that_stands_on_its_own_is_not_rewritten():
    turns = chat("Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?",
                 "Quảng Nam giao Sở nào chủ trì quản lý nhà nước về kinh tế tập thể?")
    assert turns[1] == ("Quảng Nam giao Sở nào chủ trì quản lý nhà nước về kinh tế tập thể?", False)
    assert chat("Hợp tác xã phải có ít nhất bao nhiêu thành viên?")[0][1] is False


def test_a_short_question_without_a_place_is_asked_about_the_chats_place():
    turns = chat("Vĩnh Linh phấn đấu thành lập bao nhiêu HTX mỗi năm?", "mỗi năm lập mới bao nhiêu tổ hợp tác?")
    assert turns[1] == ("mỗi năm lập mới bao nhiêu tổ hợp tác ở Vĩnh Linh?", True)


def test_a_question_that_points_back_with_that_or_nay_asks_about_the_previous_topic():
    turns = chat("In Vĩnh Linh, who links the cooperative database with tax registration?",
                 "who has to make sure of that?")
    assert turns[1] == ("Links the cooperative database with tax registration in Vĩnh Linh: who has to make sure of that?",
                        True)
    turns = chat("Ở Vĩnh Linh, ai chủ trì phát triển HTX nông nghiệp?", "nhóm nhiệm vụ này phải xong khi nào?")
    assert turns[1] == ("Phát triển HTX nông nghiệp ở Vĩnh Linh: nhóm nhiệm vụ này phải xong khi nào?", True)
    turns = chat("In Kiên Giang, which organisation is the core of the collective economy?",
                 "what does it treat as the central interest?")
    assert turns[1] == ("Core of the collective economy in Kiên Giang: what does it treat as the central interest?",
                        True)
    # A relative "that" inside a question of its own is no pointer back.
    assert chat("Ai phụ trách giải thể HTX ở Vĩnh Linh?",
                "Which office in Hà Tĩnh runs the fund that lends to cooperatives?")[1][1] is False


@pytest.mark.parametrize("first, follow_up, understood", [
    # "họ" is "they", as "they" is in English.
    ("Ai phụ trách xúc tiến thương mại cho HTX ở Hà Tĩnh?", "cụ thể họ phải làm gì?",
     "Xúc tiến thương mại cho HTX ở Hà Tĩnh: cụ thể họ phải làm gì?"),
    # The agency the answer named: "sở đó", "that department".
    ("so nao o ha tinh lo xuc tien thuong mai cho htx", "so do cu the phai lam nhung gi",
     "Lo xuc tien thuong mai cho htx o Ha Tinh: so do cu the phai lam nhung gi?"),
    ("Which department in Hà Tĩnh leads trade promotion for co-ops?", "what must that department report?",
     "Leads trade promotion for co-ops in Hà Tĩnh: what must that department report?"),
    # A preposition and a question word finish the previous question.
    ("In Ha Tinh, who trains co-ops on registering trademarks for their products?", "to which production standards?",
     "Trains co-ops on registering trademarks for their products in Hà Tĩnh: to which production standards?"),
    # A bare classifier counts what was just named; "làm vậy" is doing it.
    ("Đến năm 2030 Vĩnh Linh phấn đấu có bao nhiêu HTX?", "Vậy mỗi năm phải lập mới mấy cái?",
     "Đến năm 2030 phấn đấu có HTX ở Vĩnh Linh: mỗi năm phải lập mới mấy cái?"),
    ("Ở Hà Tĩnh, ai hướng dẫn HTX thương mại điện tử?", "Làm vậy để giúp HTX được gì?",
     "Hướng dẫn HTX thương mại điện tử ở Hà Tĩnh: Làm vậy để giúp HTX được gì?"),
    ("In Vĩnh Linh, who must finish merging village co-ops?", "and that whole task group has to be done by when?",
     "Finish merging village co-ops in Vĩnh Linh: that whole task group has to be done by when?"),
    # "that" before a preposition stands for the previous matter, as it does at the end.
    ("In Vĩnh Linh, who guides founding new cooperative groups?", "who's in charge of that at commune level?",
     "Guides founding new cooperative groups in Vĩnh Linh: who's in charge of that at commune level?"),
])
def test_they_that_agency_and_a_finishing_phrase_ask_about_the_previous_topic(first, follow_up, understood):
    assert chat(first, follow_up)[1] == (understood, True)


def test_another_place_named_first_then_a_question_pointing_back_asks_about_the_same_matter_there():
    first = "In Quảng Nam, who has to shore up the district-level steering committee?"
    turns = chat(first, "what about Vinh Linh, anyone told to do that at commune level?")
    assert turns[1] == ("Shore up the district-level steering committee in Vĩnh Linh: anyone told to do that at "
                        "commune level?", True)
    # Without a pointer it is a question of its own about that place.
    question, _ = chat(first, "what about Vinh Linh, which system must cooperatives be registered on?")[1]
    assert "steering committee" not in question


def test_that_district_is_the_chats_place_not_a_pointer_at_the_previous_matter():
    # "ở huyện đó" names where, so the message is a question of its own, asked about that place.
    turns = chat("Kế hoạch 67 của Huyện ủy Vĩnh Linh đặt chỉ tiêu tỷ lệ HTX xếp loại tốt, khá là bao nhiêu?",
                 "Thế ở huyện đó ai chủ trì rà soát, phân loại HTX, theo thông tư nào?")
    question, rewritten = turns[1]
    assert rewritten and question.startswith("ở huyện đó ai chủ trì rà soát, phân loại HTX")
    assert "tốt, khá" not in question


def test_another_place_and_its_document_replace_both():
    turns = chat("In Kiên Giang's Plan 251, which organisation is the core of the collective economy?",
                 "and in Vĩnh Linh's Plan 67?")
    assert turns[1] == ("In Vĩnh Linh's Plan 67, which organisation is the core of the collective economy?", True)


def test_a_level_or_year_in_place_of_the_previous_ones_asks_the_previous_question_again():
    turns = chat("In Quảng Nam, who unifies state management of the collective economy at district level?",
                 "and at provincial level?")
    assert turns[1] == ("In Quảng Nam, who unifies state management of the collective economy at provincial level?", True)
    turns = chat("Ở Quảng Nam, ai kiện toàn Ban Chỉ đạo kinh tế tập thể cấp huyện?", "còn cấp tỉnh thì sao?")
    assert turns[1] == ("Ở Quảng Nam, ai kiện toàn Ban Chỉ đạo kinh tế tập thể cấp tỉnh?", True)
    turns = chat("By 2025, how many cooperatives does Kiên Giang aim for?", "and by 2030?")
    assert turns[1] == ("By 2030, how many cooperatives does Kiên Giang aim for?", True)
    # A phrase with no counterpart in the previous question is a new topic, not a swap.
    turns = chat("Ở Hà Tĩnh, cơ quan nào phụ trách xúc tiến thương mại cho HTX?", "còn cấp tỉnh thì sao?")
    assert turns[1] == ("Cơ quan nào phụ trách cấp tỉnh ở Hà Tĩnh?", True)


def test_how_often_asks_about_the_previous_topic():
    turns = chat("vinh linh phong nao chu tri tong hop nhu cau ho tro htx", "bao lau lam mot lan")
    assert turns[1] == ("Tong hop nhu cau ho tro htx o Vinh Linh: bao lau lam mot lan?", True)


def test_a_question_word_after_the_thing_asked_about_makes_a_question_of_its_own():
    first = "In Hà Tĩnh, what is the State Bank branch asked to do for co-ops?"
    turns = chat(first, "and the Department of Home Affairs, what's its job in there?")
    assert turns[1] == ("the Department of Home Affairs, what's its job in there in Hà Tĩnh?", True)
    # The State Bank is what the first question asks about, not who it asks for.
    assert "State Bank" not in chat(first, "and the Department of Home Affairs?")[1][0]


def test_a_pronoun_for_what_the_follow_up_itself_introduces_is_no_pointer_back():
    turns = chat("In Vĩnh Linh, who reports to the Standing Board?",
                 "what about the Party members — what are they responsible for?")
    assert turns[1] == ("the Party members — what are they responsible for in Vĩnh Linh?", True)


def test_the_document_the_previous_question_named_stays_in_its_topic():
    turns = chat("Theo Kế hoạch 67-KH/HU, đến năm 2045 Vĩnh Linh phấn đấu bao nhiêu phần trăm HTX hoạt động hiệu quả?",
                 "trong đó bao nhiêu tham gia chuỗi liên kết?")
    assert turns[1][0].startswith("Theo Kế hoạch 67-KH/HU đến năm 2045 phấn đấu HTX hoạt động hiệu quả ở Vĩnh Linh:")


def test_a_question_of_its_own_after_a_marker_stays_under_the_document_the_chat_is_about():
    turns = chat("Under Vĩnh Linh's Plan 67-KH/HU, on what basis are benefits distributed?",
                 "and what should the collective economy become together with the state economy?")
    assert turns[1] == ("what should the collective economy become together with the state economy in Vĩnh Linh "
                        "under Plan 67-KH/HU?", True)
    turns = chat("Theo Kế hoạch 67-KH/HU, Vĩnh Linh phấn đấu thành lập bao nhiêu HTX mỗi năm?",
                 "mỗi năm lập mới bao nhiêu tổ hợp tác?")
    assert turns[1] == ("mỗi năm lập mới bao nhiêu tổ hợp tác ở Vĩnh Linh theo Kế hoạch 67-KH/HU?", True)
    # A resolution the question is about is not the document it was asked under.
    turns = chat("Ở Vĩnh Linh, công tác tuyên truyền Nghị quyết số 20-NQ/TW cần chú trọng ở những xã nào?",
                 "còn phát triển HTX thì ưu tiên tập trung ở đâu?")
    assert turns[1] == ("phát triển HTX thì ưu tiên tập trung ở đâu ở Vĩnh Linh?", True)


def test_other_ways_of_asking_the_same_elsewhere():
    previous = "Ở Vĩnh Linh, ai phụ trách giải thể HTX?"
    for message in ("thế còn bên Hà Tĩnh?", "ở Hà Tĩnh cũng vậy à?", "Hà Tĩnh thì sao"):
        assert chat(previous, message)[1] == ("Ở Hà Tĩnh, ai phụ trách giải thể HTX?", True), message
    previous = "Who handles HTX dissolution in Vĩnh Linh?"
    for message in ("same for Hà Tĩnh?", "does Hà Tĩnh's plan say the same?", "what about Hà Tĩnh's plan?",
                    "how does Hà Tĩnh compare on that?"):
        assert chat(previous, message)[1] == ("Who handles HTX dissolution in Hà Tĩnh?", True), message


def test_another_place_then_what_they_set_asks_the_previous_matter_there():
    turns = chat("vinh linh dat chi tieu ty le can bo quan ly htx co trinh do dh la bao nhieu",
                 "kien giang thi sao, ho dat muc bn")
    assert turns[1] == ("Dat chi tieu ty le can bo quan ly htx co trinh do dh o Kien Giang: ho dat muc bao nhieu?", True)


def test_another_place_with_words_for_the_same_thing_asks_the_previous_question_there():
    previous = "Ở Hà Tĩnh, đơn vị nào được giao giới thiệu các mô hình hợp tác xã điển hình?"
    for message in ("Bên Vĩnh Linh việc này do đơn vị nào đảm nhận?", "vinh linh co dat yeu cau tuong tu ko"):
        assert chat(previous, message)[1] == (
            "Ở Vĩnh Linh, đơn vị nào được giao giới thiệu các mô hình hợp tác xã điển hình?", True), message
    for message in ("Kế hoạch của Kiên Giang nói sao về điểm này?", "Kiên Giang có giống vậy không?"):
        assert chat(previous, message)[1] == (
            "Ở Kiên Giang, đơn vị nào được giao giới thiệu các mô hình hợp tác xã điển hình?", True), message
    turns = chat("Who handles HTX dissolution in Vĩnh Linh?", "Hà Tĩnh have anything on that?", "Kiên Giang too?")
    assert [question for question, _ in turns[1:]] == ["Who handles HTX dissolution in Hà Tĩnh?",
                                                       "Who handles HTX dissolution in Kiên Giang?"]


def test_a_question_of_its_own_about_another_place_is_not_the_previous_one_moved():
    previous = "Who handles HTX dissolution in Vĩnh Linh?"
    # "their" belongs to the question's own topic; "Also" introduces a question of its own.
    assert chat(previous, "In Hà Tĩnh, who helps cooperatives register their members?")[1] == (
        "In Hà Tĩnh, who helps cooperatives register their members?", False)
    assert chat(previous, "Also, who manages the fund in Hà Tĩnh?")[1] == ("who manages the fund in Hà Tĩnh?", True)
    # A bare question word elsewhere still asks the previous question there.
    assert chat("Ở Vĩnh Linh, ai phụ trách giải thể HTX?", "còn ở Quảng Nam thì giao ai?")[1] == (
        "Ở Quảng Nam, ai phụ trách giải thể HTX?", True)


def test_a_yes_no_question_about_another_place_stands_on_its_own():
    # "có … không?": only "có" is a question word; the words between are the question's topic.
    turns = chat("Ở Hà Tĩnh, ai phụ trách giải thể HTX?",
                 "Huyện Vĩnh Linh có chỉ tiêu nào về việc xóa bỏ HTX chỉ tồn tại hình thức không?")
    assert turns[1] == ("Huyện Vĩnh Linh có chỉ tiêu nào về việc xóa bỏ HTX chỉ tồn tại hình thức không?", False)


def test_another_place_drops_the_number_of_the_previous_places_plan():
    turns = chat("Under Kiên Giang's Plan 251, which of numbers and quality gets the emphasis?", "same for Vĩnh Linh?")
    assert turns[1] == ("Under Vĩnh Linh's Plan, which of numbers and quality gets the emphasis?", True)


def test_a_pronoun_after_a_question_word_still_points_back():
    turns = chat("In Hà Tĩnh, who draws up the working rules of the Cooperative Alliance?",
                 "and whom is it supposed to advise?")
    assert turns[1] == ("Draws up the working rules of the Cooperative Alliance in Hà Tĩnh: whom is it supposed to advise?",
                        True)


def test_the_store_forgets_after_the_timeout_and_on_reset(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite", ttl_s=60)
    store.add("chat-1", Turn(question="q", understood="q", at=time.time()))
    assert store.get("chat-1").last.question == "q"
    reopened = ConversationStore(tmp_path / "c.sqlite", ttl_s=60)   # a restarted bot
    assert reopened.get("chat-1").last.question == "q"
    reopened.reset("chat-1")
    assert reopened.get("chat-1").last is None
    stale = ConversationStore(None, ttl_s=60)
    stale.add("chat-2", Turn(question="old", understood="old", at=time.time() - 120))
    assert stale.get("chat-2").last is None


def test_the_store_is_bounded():
    store = ConversationStore(None, max_conversations=3, max_turns=2)
    for n in range(5):
        store.add(f"chat-{n}", Turn(question="q", understood="q"))
    assert store.get("chat-0").last is None and store.get("chat-4").last is not None
    for n in range(4):
        store.add("chat-4", Turn(question=f"q{n}", understood=f"q{n}"))
    assert [t.question for t in store.get("chat-4").turns] == ["q2", "q3"]


def converse(assistant, *messages: str):
    """The answers to `messages`, asked in order in a fresh chat."""
    chat_id = f"test-{time.time_ns()}"
    return [assistant.ask_in_conversation(chat_id, m) for m in messages]


def first_cited(answer) -> tuple[str, list[str]]:
    return answer.citations[0].doc_id, answer.citations[0].clause


def test_the_answer_shows_how_a_follow_up_was_understood(assistant):
    chat_id = f"test-{time.time_ns()}"
    first = assistant.ask_in_conversation(chat_id, "Ai phụ trách giải thể HTX ở Vĩnh Linh?")
    assert first.understood_as is None
    follow = assistant.ask_in_conversation(chat_id, "hạn chót là khi nào?")
    assert follow.question == "hạn chót là khi nào?"
    assert follow.understood_as and "Vĩnh Linh" in follow.understood_as
    assert follow.citations[0].doc_id.startswith("vinh-linh")
    assistant.new_conversation(chat_id)
    fresh = assistant.ask_in_conversation(chat_id, "hạn chót là khi nào?")
    assert fresh.understood_as is None


def test_an_unaccented_fragment_after_an_accented_question_gets_the_corpus_diacritics(assistant):
    _, follow = converse(assistant, "Ở Hà Tĩnh, ai tổ chức các lớp đào tạo, tập huấn cho hợp tác xã?",
                         "con chuyen doi so thi sao")
    # Mixed styles would stop the retriever from restoring the unaccented words.
    assert "chuyển đổi số" in follow.understood_as and "Hà Tĩnh" in follow.understood_as
    assert first_cited(follow) == ("ha-tinh-kh-ubnd-2022", ["Phụ lục", "3.6"])
    assert "Sở Thông tin và Truyền thông" in follow.answer


def test_the_same_duty_in_another_place_is_found_in_that_places_own_wording(assistant):
    # Hà Tĩnh gives the yearly plan to Sở KH&ĐT ("xây dựng kế hoạch phát triển kinh tế tập thể
    # hàng năm"); Vĩnh Linh words it "lập, sơ kết, tổng kết Kế hoạch phát triển KTTT hàng năm".
    first, follow = converse(assistant, "Ở Hà Tĩnh, việc xây dựng kế hoạch phát triển kinh tế tập thể hàng năm "
                                        "giao cho ai?", "còn ở Vĩnh Linh?")
    assert first.citations[0].clause == ["Phụ lục", "4.2"]
    assert first_cited(follow) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.1"])
    assert "Phòng Nông nghiệp và PTNT" in follow.answer


def test_a_fragment_is_answered_from_the_duty_that_answered_the_previous_question(assistant):
    # "by when?" names nothing; the clause that assigned the count (Vĩnh Linh, mục 3.2) dates it.
    first, follow = converse(assistant, "In Vĩnh Linh, which office has to count the cooperative groups "
                                        "(tổ hợp tác) in the district and report on them?", "by when?")
    assert first.citations[0].clause == ["3", "3.2"]
    assert first_cited(follow) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.2"])
    assert "quý I năm 2023" in follow.answer


def test_a_short_question_about_the_clause_just_shown_is_answered_from_it(assistant):
    # Vĩnh Linh mục 4.2 gives the communes the review and the report "về UBND huyện (qua Phòng
    # Nông nghiệp và PTNT)"; the closing paragraph, which also mentions reporting, is no answer.
    first, follow = converse(assistant, "Ở Vĩnh Linh, ai phải phối hợp với các HTX rà soát, điều chỉnh phương án "
                                        "sản xuất kinh doanh cho phù hợp Nghị quyết 20?", "báo cáo kết quả qua phòng nào?")
    assert first.citations[0].clause == ["4", "4.2"]
    assert follow.understood_as == "báo cáo kết quả qua phòng nào ở Vĩnh Linh?"
    assert first_cited(follow) == ("vinh-linh-cv-ubnd-nn-2023", ["4", "4.2"])


def test_an_example_that_matches_one_clause_clearly_outweighs_a_flat_ranking(assistant):
    # Asked again for Hà Tĩnh, the question's own ranking is nearly flat (mục 3.2 just ahead of
    # 2.4); the duty that answered for Vĩnh Linh ("hướng dẫn, hỗ trợ … vay vốn của Quỹ Hỗ trợ phát
    # triển HTX") matches Hà Tĩnh's fund clause, Phụ lục 2.4, well ahead of any other.
    _, follow = converse(assistant, "In Vĩnh Linh, which office has to guide internal credit activities at collective "
                                    "economic organisations that meet the conditions?", "and in Hà Tĩnh?")
    assert first_cited(follow) == ("ha-tinh-kh-ubnd-2022", ["Phụ lục", "2.4"])


def test_a_match_both_retrievers_put_first_is_not_overridden_by_the_previous_answer(assistant):
    # The example (Kiên Giang I.1.b, about awareness as much as unions) points at KH 67 I.3; the
    # question itself finds III.3 ("thí điểm một số liên hiệp hợp tác xã … trong một số ngành,
    # lĩnh vực") first in both the dense and the lexical lists.
    _, follow = converse(assistant, "What does Kiên Giang's Plan 251 say about forming cooperative unions — are they "
                                    "limited in scale, sector or area?", "and in Vĩnh Linh's Plan 67?")
    assert first_cited(follow) == ("vinh-linh-kh-67-hu-2023", ["III", "3"])


def test_a_question_of_its_own_about_the_same_matter_elsewhere_is_matched_by_the_previous_answer(assistant):
    # Stands as typed, but shares "vai trò", "thành viên", "HTX" with the question about Vĩnh Linh;
    # Quảng Nam words it "phát huy vai trò làm chủ … của các thành viên" (mục 1).
    _, follow = converse(assistant, "huyen uy vinh linh muon thanh vien htx phai nhan thuc ro dieu gi ve vai tro cua ho",
                         "quang nam co nhac den vai tro thanh vien htx khong")
    assert follow.understood_as is None
    assert first_cited(follow) == ("quang-nam-cv-2651-ubnd-ktn-2020", ["1"])


def test_a_question_of_its_own_elsewhere_that_points_back_is_matched_by_the_previous_answer(assistant):
    # "quỹ này" is the fund the Vĩnh Linh answer was about; Hà Tĩnh manages it under Phụ lục 2.4,
    # which the question alone ranks below the people's credit funds (Phụ lục 4.4).
    _, follow = converse(assistant, "Công văn của UBND huyện Vĩnh Linh giao đơn vị nào chủ trì hướng dẫn các tổ chức "
                                    "kinh tế tập thể vay vốn Quỹ Hỗ trợ phát triển hợp tác xã?",
                         "Ở Hà Tĩnh thì quỹ này do ai quản lý?")
    assert follow.understood_as is None
    assert first_cited(follow) == ("ha-tinh-kh-ubnd-2022", ["Phụ lục", "2.4"])


def test_who_issued_the_document_the_chat_is_about_is_answered_from_its_opening(assistant):
    _, follow = converse(assistant, "Which action programme does Kiên Giang's plan on the collective economy put "
                                    "into effect?", "who issued that one, and when?")
    assert first_cited(follow) == ("kien-giang-kh-251-ubnd-2023", ["mở đầu"])
    assert follow.answer.startswith("It was issued by Ủy ban nhân dân tỉnh Kiên Giang")


def test_a_fragment_about_the_clause_just_cited_is_answered_not_refused(assistant):
    # Few words of its own ("hạn chót vụ này", typed "z" for "vậy"), about mục 3.2 just cited.
    *_, last = converse(assistant, "cv cua ubnd huyen vinh linh noi htx nghi hoat dong lau roi thi xu ly sao",
                        "neu van dong ma ho ko chiu giai the thi sao", "han chot vu nay la khi nao z")
    assert not last.abstained
    assert first_cited(last) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.2"])


def test_chat_wording_that_a_first_question_would_be_refused_for_is_answered_in_a_chat(assistant):
    # As a first question "đến 2030 thì tổng cộng khoảng bao nhiêu HTX?" is refused (its word
    # pairs are chat, not document, wording); after a question on Plan 67's targets its own
    # words ("2030", "HTX") are what the best clauses talk about.
    follow_up = "đến 2030 thì tổng cộng khoảng bao nhiêu HTX?"
    assert assistant.ask(follow_up + " ở Vĩnh Linh").abstained
    _, follow = converse(assistant, "Kế hoạch 67-KH/HU của Huyện ủy Vĩnh Linh đặt chỉ tiêu mỗi năm thành lập mới "
                                    "bao nhiêu hợp tác xã?", follow_up)
    assert not follow.abstained
    assert first_cited(follow) == ("vinh-linh-kh-67-hu-2023", ["II", "2", "2.1"])
    assert "khoảng 85 - 90 hợp tác xã" in follow.answer


def test_the_answered_question_asked_again_elsewhere_in_chat_wording_is_answered_not_refused(assistant):
    # The rewrite carries the previous turn's chat wording ("toi 2030 ca huyen co tong cong"), which
    # the vocabulary check made for first questions refuses; the message adds nothing of its own.
    *_, last = converse(assistant, "kh 67 cua huyen uy vinh linh den 2030 co tong cong bao nhieu htx",
                        "toi 2030 ca huyen co tong cong bao nhieu htx", "con kien giang thi tinh dat bao nhieu")
    assert not last.abstained
    assert first_cited(last) == ("kien-giang-kh-251-ubnd-2023", ["II", "2", "a"])


def test_funds_allocated_are_sources_of_money_not_the_support_fund(assistant):
    # "allocating funds" is phân bổ … nguồn vốn (Phòng Tài chính - Kế hoạch, mục 3.2), not the
    # Quỹ hỗ trợ phát triển HTX that Phòng Nông nghiệp helps co-ops borrow from (mục 2.2).
    _, follow = converse(assistant, "In Quang Nam's letter 2651, which department sets aside money in the annual "
                                    "provincial budget for co-op support policies?",
                         "what about Vinh Linh district, who's in charge of allocating funds to support co-ops there?")
    assert first_cited(follow) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.2"])
    assert "Phòng Tài chính - Kế hoạch" in follow.answer


def test_phone_shorthand_in_a_follow_up_is_read_as_the_words_it_stands_for(assistant):
    # "dc" (được) and "bn" (bao nhiêu) mid-message: as shorthand the message asked nothing and
    # was refused; spelled out it asks how many, about Plan 67's targets.
    _, follow = converse(assistant, "ke hoach 67 cua huyen uy vinh linh muc tieu moi nam thanh lap moi bao nhieu htx",
                         "toi 2030 tong cong dc khoang bn htx")
    assert not follow.abstained and follow.intent == "how_many"
    assert first_cited(follow) == ("vinh-linh-kh-67-hu-2023", ["II", "2", "2.1"])
    assert "khoảng 85 - 90 hợp tác xã" in follow.answer


def test_a_follow_up_in_the_same_place_stays_with_the_document_that_answered(assistant):
    # Vĩnh Linh's letter (mục 3.1) also counts tổ hợp tác; the chat is about Plan 67's targets.
    *_, last = converse(assistant, "Theo Kế hoạch 67-KH/HU của Ban Thường vụ Huyện ủy Vĩnh Linh, đến năm 2030 toàn "
                                   "huyện phấn đấu có khoảng bao nhiêu hợp tác xã?",
                        "Vậy mỗi năm phải lập mới mấy HTX?", "Thế còn tổ hợp tác thì sao?")
    assert first_cited(last) == ("vinh-linh-kh-67-hu-2023", ["II", "2", "2.1"])
    assert "thành lập mới từ 10 đến 15 tổ hợp tác" in last.answer


def test_a_short_english_follow_up_after_ok_is_read_as_english(assistant):
    # "co-op unions" alone could pass for Vietnamese syllables; the message "ok and co-op
    # unions?" is English, so its own words are checked against the glossary and answered.
    _, follow = converse(assistant, "Under Kien Giang's plan 251, how many cooperatives and members is the province "
                                    "aiming for by 2030?", "ok and co-op unions?")
    assert not follow.abstained
    assert first_cited(follow) == ("kien-giang-kh-251-ubnd-2023", ["II", "2", "a"])
    assert follow.question == "ok and co-op unions?"


def test_a_question_outside_the_corpus_is_still_refused_in_the_middle_of_a_chat(assistant):
    _, off = converse(assistant, "Ai phụ trách giải thể HTX ở Vĩnh Linh?", "Đăng ký kết hôn cần chuẩn bị giấy tờ gì?")
    assert off.abstained and not off.citations


def eval_conversations(built_index, tmp_path, *turns: dict) -> dict:
    """`htx eval --conversations --json` over one conversation of `turns`: its summary."""
    conversations = tmp_path / "conversations.jsonl"
    conversations.write_text(json.dumps({"id": "c1", "turns": list(turns)}, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(conversations), "--conversations", "--json",
                                      "--index", str(built_index)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


DISSOLUTION_GOLD = [{"doc_id": "vinh-linh-cv-ubnd-nn-2023", "clause": ["3", "3.2"]}]


def test_a_conversation_eval_keeps_its_chats_out_of_the_index_directory(built_index, tmp_path):
    # The eval's chats would otherwise be written among the officers' own (conversations.sqlite).
    stored = built_index / "conversations.sqlite"
    before = stored.read_bytes() if stored.exists() else None
    summary = eval_conversations(built_index, tmp_path,
                                 {"question": "Ai phụ trách giải thể HTX ở Vĩnh Linh?", "gold": DISSOLUTION_GOLD},
                                 {"question": "hạn chót là khi nào?", "gold": DISSOLUTION_GOLD, "kind": "intent"})
    assert summary["conversations"] == 1 and summary["first_turn_hit@1"] == 1.0
    # Follow-ups are also reported by how they lean on the turn before.
    assert summary["follow_up_hit@1_by_kind"] == {"intent": f"{summary['follow_up_hit@1']} of 1"}
    assert (stored.read_bytes() if stored.exists() else None) == before


def test_the_conversation_eval_counts_out_of_scope_follow_ups_refused(built_index, tmp_path):
    summary = eval_conversations(built_index, tmp_path,
                                 {"question": "Ai phụ trách giải thể HTX ở Vĩnh Linh?", "gold": DISSOLUTION_GOLD},
                                 {"question": "còn ở Hà Nội thì sao?", "out_of_scope": True})
    assert summary["out_of_scope_refused"] == "1 of 1"
    assert summary["follow_up_hit@1"] is None           # a refusal is no follow-up to score


def test_a_follow_up_about_a_place_the_corpus_lacks_is_refused(assistant):
    _, follow = converse(assistant, "Ai phụ trách giải thể HTX ở Vĩnh Linh?", "còn ở Hà Nội thì sao?")
    assert follow.abstained and "Hà Nội" in follow.answer


def test_a_new_topic_the_clauses_found_never_mention_is_refused(assistant):
    # The rewrite "Ai phụ trách giá lúa hôm nay ở Vĩnh Linh?" is covered by its place and cue;
    # what the officer asked about, the price of rice, is in no clause.
    _, follow = converse(assistant, "Ai phụ trách giải thể HTX ở Vĩnh Linh?", "còn giá lúa hôm nay?")
    assert follow.abstained and not follow.citations
    _, follow = converse(assistant, "Ai phụ trách giải thể HTX ở Vĩnh Linh?", "còn chuyển đổi số thì sao?")
    assert not follow.abstained


def test_a_when_fragment_about_a_duty_without_a_date_is_answered_by_the_heading_that_dates_it(assistant):
    # Vĩnh Linh's letter dates its groups of tasks on the group's heading: "1. Tăng cường tuyên
    # truyền … (hoàn thành trong quý I năm 2023)" covers 1.1, which gives no time of its own.
    first, follow = converse(assistant, "Ở Vĩnh Linh, ai phải tập trung tuyên truyền, giáo dục để chuyển biến "
                                        "nhận thức về vai trò của kinh tế tập thể?", "hạn chót là khi nào?")
    assert first.citations[0].clause == ["1", "1.1"]
    assert first_cited(follow) == ("vinh-linh-cv-ubnd-nn-2023", ["1"])
    assert "quý I năm 2023" in follow.answer
    # The duty itself is still cited, right after.
    assert ["1", "1.1"] in [c.clause for c in follow.citations]


def test_words_that_open_a_new_matter_make_a_question_of_its_own_in_the_chats_place():
    turns = chat("In Hà Tĩnh, who manages the cooperative support fund?",
                 "different thing: when co-ops widen their membership types, what should that depend on?")
    assert turns[1] == ("when co-ops widen their membership types, what should that depend on in Hà Tĩnh?", True)
    turns = chat("Ai quản lý quỹ hỗ trợ HTX ở Hà Tĩnh?", "Hỏi thêm: ai tổ chức tập huấn cho cán bộ HTX ở Quảng Nam?")
    assert turns[1] == ("ai tổ chức tập huấn cho cán bộ HTX ở Quảng Nam?", False)


def test_a_pronoun_that_says_or_mentions_stands_for_the_document():
    # "it" is the letter, so the message asks a question of its own about it.
    turns = chat("Who's behind Quảng Nam's letter 2651?",
                 "does it say anything to the districts about cutting red tape for co-ops?")
    assert turns[1] == ("does it say anything to the districts about cutting red tape for co-ops in Quảng Nam "
                        "under letter 2651?", True)


def test_a_contracted_question_word_leaves_nothing_of_itself_in_the_topic():
    turns = chat("Who's in charge of the fund in Hà Tĩnh?", "and in Quảng Nam?")
    assert turns[1] == ("Who's in charge of the fund in Quảng Nam?", True)
    turns = chat("Who's behind Quảng Nam's letter 2651?", "deadline?")
    assert not turns[1][0].lower().startswith("s ")


def test_the_same_question_asked_for_another_place_in_chat_shorthand():
    for message, place in [("same q for Kien Giang", "Kiên Giang"), ("same thing in Ha Tinh?", "Hà Tĩnh"),
                            ("and Vinh Linh district?", "Vĩnh Linh")]:
        turns = chat("Which newspaper does Quảng Nam's letter ask to step up propaganda on collective-economy policy?",
                     message)
        assert turns[1] == (f"Which newspaper does {place}'s letter ask to step up propaganda on collective-economy "
                            "policy?", True)


def test_bn_typed_for_bao_nhieu_asks_the_figure_elsewhere_without_the_old_plans_number():
    first = rewrite("kh 251 kien giang muc tieu 2030 co bao nhieu htx", None, PLACES)
    follow = rewrite("vinh linh thi bn", first.turn, PLACES)
    assert follow.kind == "locality" and follow.turn.intent == "how_many"
    assert follow.question == "kh Vinh Linh muc tieu 2030 co bao nhieu htx"


def test_this_figure_asked_for_another_place_is_the_previous_question_there():
    turns = chat("Kế hoạch 251 của Kiên Giang đặt mục tiêu đến năm 2030 toàn tỉnh có bao nhiêu hợp tác xã?",
                 "Còn ở huyện Vĩnh Linh thì con số này là bao nhiêu?")
    assert turns[1] == ("Kế hoạch của Vĩnh Linh đặt mục tiêu đến năm 2030 toàn tỉnh có bao nhiêu hợp tác xã?", True)


def test_what_that_plan_mentions_is_a_question_of_its_own_about_it():
    turns = chat("Theo kế hoạch 67 của Huyện ủy Vĩnh Linh, đến năm 2045 thu hút bao nhiêu phần trăm dân số tham gia?",
                 "Kế hoạch đó có nêu những xã khó khăn nào cần tập trung phát triển HTX không?")
    assert turns[1][0].startswith("Kế hoạch đó có nêu những xã khó khăn nào cần tập trung phát triển HTX không ở Vĩnh Linh")


def test_another_places_equivalent_is_the_previous_question_there():
    turns = chat("Under Vĩnh Linh's Plan 67, by when must the yearly results be reported?", "Hà Tĩnh's equivalent?")
    assert turns[1] == ("Under Hà Tĩnh's Plan, by when must the yearly results be reported?", True)


def test_the_same_question_with_its_own_words_for_another_place_is_still_the_previous_one_there():
    asked = "In Ha Tinh's 2022 co-op plan, which department directs localities to build high-tech co-op models?"
    for message in ("same question for Quang Nam's 2020 letter?", "same thing in Quang Nam - who's on the hook there?"):
        follow = rewrite(message, rewrite(asked, None, PLACES).turn, PLACES)
        assert follow.kind == "locality"
        assert "which department directs localities to build high-tech co-op models" in follow.question
        assert "Quảng Nam" in follow.question and "Ha Tinh" not in follow.question


def test_they_in_another_place_asks_the_previous_figure_there_naming_the_place_once():
    turns = chat("Theo Kế hoạch 67-KH/HU của Huyện ủy Vĩnh Linh, đến năm 2030 toàn huyện có bao nhiêu hợp tác xã?",
                 "Thế bên Kiên Giang họ đặt chỉ tiêu bao nhiêu?")
    question, rewritten = turns[1]
    assert rewritten and "đến năm 2030 toàn huyện có bao nhiêu hợp tác xã" in question and "67" not in question
    assert question.count("Kiên Giang") == 1 and "Vĩnh Linh" not in question


def test_over_in_a_place_names_only_the_place():
    turns = chat("Quang Nam's letter 2651 asks which newspaper to step up publicity on collective economy policy?",
                 "what about over in Ha Tinh?")
    assert turns[1] == ("Hà Tĩnh's letter asks which newspaper to step up publicity on collective economy policy?", True)


def test_an_adverb_after_the_marker_introduces_nothing_the_pronoun_could_point_at():
    first = rewrite("Which media outlets in Ha Tinh are responsible for publicising co-op policy?", None, PLACES)
    follow = rewrite("and what exactly are they meant to set up?", first.turn, PLACES)
    assert follow.kind == "intent" and follow.question.endswith(": what exactly are they meant to set up?")


def test_han_may_typed_on_a_phone_asks_when():
    first = rewrite("theo kh cua ubnd tinh ha tinh thi ubnd cap huyen gui bc nam cho so khdt cham nhat ngay nao",
                    None, PLACES)
    follow = rewrite("con o vinh linh, cac xa vs phong ban bc dinh ky gui huyen han may", first.turn, PLACES)
    assert follow.turn.intent == "when"
    # Shown as understood, the phone's "bc" is spelled out.
    assert follow.question == "o vinh linh, cac xa vs phong ban bao cao dinh ky gui huyen han may?"


def test_a_question_with_words_of_its_own_is_not_overridden_by_the_previous_answers_duty(assistant):
    # "quỹ đó" points back, so the Hà Tĩnh clause on converting the fund is the example; but
    # "phòng nào lo hướng dẫn HTX vay vốn" says what is asked: Vĩnh Linh's mục 2.2 (guiding
    # loans from the fund), which the example alone would put below mục 3.1.
    turns = converse(assistant, "Trong kế hoạch của UBND tỉnh Hà Tĩnh, đơn vị nào được giao quản lý, điều hành Quỹ "
                                "Hỗ trợ phát triển hợp tác xã?",
                     "Quỹ này phải chuyển đổi mô hình hoạt động theo nghị định nào nhỉ?",
                     "Vĩnh Linh thì phòng nào lo hướng dẫn HTX vay vốn quỹ đó?")
    assert first_cited(turns[-1]) == ("vinh-linh-cv-ubnd-nn-2023", ["2", "2.2"])


def test_vu_nay_typed_without_diacritics_points_back_at_the_previous_topic():
    first = rewrite("phong nao chu tri kiem tra ra soat tinh hinh hoat dong cua htx o vinh linh", None, PLACES)
    follow = rewrite("don vi nao phoi hop thuc hien vu nay", first.turn, PLACES)
    assert follow.kind == "intent"
    assert follow.question.startswith("Kiem tra ra soat tinh hinh hoat dong cua htx o Vinh Linh: ")


def test_a_marked_question_about_another_place_pointing_back_is_matched_by_the_previous_answer(assistant):
    # "quỹ đó" after a question on the fund's loans in Vĩnh Linh: Hà Tĩnh's Phụ lục 2.4 manages
    # that fund, though "ai quản lý" alone ranks other managers first.
    turns = converse(assistant, "theo cv cua ubnd huyen vinh linh nam 2023 thi phong nao huong dan htx vay von quy ho "
                                "tro phat trien htx?", "con o ha tinh ai quan ly quy do")
    assert first_cited(turns[-1]) == ("ha-tinh-kh-ubnd-2022", ["Phụ lục", "2.4"])


def test_a_question_asked_under_that_one_is_about_the_document_not_the_previous_topic():
    first = rewrite("Which provincial party action programme is Hà Tĩnh's plan carrying out?", None, PLACES)
    follow = rewrite("ok, under that one when do departments and districts have to send in their yearly results?",
                     first.turn, PLACES)
    assert follow.kind == "place"
    assert follow.question == ("under that one when do departments and districts have to send in their yearly "
                               "results in Hà Tĩnh?")


def test_a_possessive_belongs_to_what_the_question_names_before_it():
    first = rewrite("Under Vĩnh Linh's Plan 67, who leads the review of cooperatives?", None, PLACES)
    own = rewrite("which communes have to finish their detailed plans first?", first.turn, PLACES)
    assert own.kind == "place"
    fragment = rewrite("when's their yearly report due?", first.turn, PLACES)
    assert fragment.kind == "intent"


def test_a_bare_fragment_is_answered_from_the_clause_just_cited_not_its_neighbour(assistant):
    # Rewritten, "by when?" reads "… tally the cooperative groups tổ hợp tác in Vĩnh Linh: by
    # when?", whose own best match in both retrievers is mục 2.3; the clause just cited, mục 3.2,
    # gives the time ("trong quý I năm 2023").
    first, follow = converse(assistant, "In the 2023 Vĩnh Linh district letter, which office has to tally the "
                                        "cooperative groups (tổ hợp tác) in the district?", "by when?")
    assert first_cited(first) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.2"])
    assert first_cited(follow) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.2"])


def test_another_places_target_after_a_target_is_the_previous_question_there():
    asked = "According to Kien Giang Plan 251, what share of cooperatives should be rated good or fair by 2030?"
    for message in ("what about Vinh Linh district's target on that?", "how about Vinh Linh district's target?",
                    "what about Vinh Linh, what's their number?"):
        follow = rewrite(message, rewrite(asked, None, PLACES).turn, PLACES)
        assert follow.kind == "locality", message
        assert "what share of cooperatives should be rated good or fair by 2030" in follow.question
        assert "Vĩnh Linh" in follow.question and "Kien Giang" not in follow.question


def test_another_places_question_with_words_of_its_own_keeps_them():
    first = rewrite("In Vinh Linh's official letter, who handles propaganda on Resolution 20?", None, PLACES)
    follow = rewrite("ok and in Ha Tinh, who's supposed to run the dedicated columns on this?", first.turn, PLACES)
    assert "dedicated columns" in follow.question and "Hà Tĩnh" in follow.question


def test_that_after_the_questions_verb_points_back():
    first = rewrite("In the Vinh Linh district People's Committee letter, which office advises on merging "
                    "hamlet-level cooperatives into commune-level ones?", None, PLACES)
    follow = rewrite("and by when is that supposed to be done?", first.turn, PLACES)
    assert follow.kind == "intent" and "merging hamlet-level cooperatives" in follow.question


def test_those_with_any_noun_points_back():
    first = rewrite("Under the Vinh Linh district People's Committee letter, who is tasked with researching the "
                    "creation of highly specialised cooperative unions in agriculture?", None, PLACES)
    follow = rewrite("and when do those unions have to be set up?", first.turn, PLACES)
    assert follow.kind == "intent" and "highly specialised cooperative unions" in follow.question


def test_how_about_is_no_question_of_how_things_are_done():
    assert understand("how about Vinh Linh district's target?").intent == "how_many"


def test_ones_points_back_at_what_was_counted():
    first = rewrite("Under Vinh Linh's Plan 67, how many cooperatives should the district have by 2030?", None, PLACES)
    follow = rewrite("how many new ones per year?", first.turn, PLACES)
    assert follow.kind == "intent" and "cooperatives" in follow.question


def test_another_document_of_the_same_place_is_asked_about_the_same_matter(assistant):
    # The Công văn gives the merger of hamlet-level HTX a time in mục 3.2; Kế hoạch 67 of the
    # Huyện ủy dates the same task in mục III.3.
    turns = converse(assistant, "Ở Vĩnh Linh, phòng nào tham mưu sáp nhập HTX quy mô thôn lên quy mô xã?",
                     "Bên kế hoạch 67 của Huyện ủy thì hạn cho mảng đó là năm nào?")
    assert first_cited(turns[0]) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.2"])
    assert first_cited(turns[1]) == ("vinh-linh-kh-67-hu-2023", ["III", "3"])


def test_a_follow_up_naming_a_document_is_not_asked_under_the_previous_one():
    first = rewrite("Theo Kế hoạch 67-KH/HU, ai chủ trì rà soát HTX ở Vĩnh Linh?", None, PLACES)
    follow = rewrite("Bên công văn của UBND huyện thì hạn chót ghi là lúc nào, phòng nào tham mưu?", first.turn, PLACES)
    assert "67" not in follow.question


def test_an_interjection_before_the_marker_is_no_part_of_the_question():
    first = rewrite("Theo Kế hoạch 67 của Huyện ủy Vĩnh Linh, đến 2030 toàn huyện có bao nhiêu HTX?", None, PLACES)
    follow = rewrite("à, thế tầm nhìn 2045 huyện muốn kéo được bao nhiêu phần trăm dân tham gia?", first.turn, PLACES)
    assert follow.question.startswith("tầm nhìn 2045 huyện muốn kéo được bao nhiêu phần trăm dân tham gia")


def test_a_figure_asked_after_a_plans_target_comes_from_that_plan(assistant):
    # Kế hoạch 67 (mục II.2.1) and the Công văn that implements it (mục 3.1) both set 02-03 new
    # HTX a year; the chat was reading the plan, so the plan's clause answers.
    turns = converse(assistant, "Kế hoạch 67-KH/HU của Huyện ủy Vĩnh Linh đặt mục tiêu đến năm 2030 có bao nhiêu HTX?",
                     "Vậy mỗi năm phải lập mới mấy HTX?")
    assert first_cited(turns[0]) == ("vinh-linh-kh-67-hu-2023", ["II", "2", "2.1"])
    assert first_cited(turns[1]) == ("vinh-linh-kh-67-hu-2023", ["II", "2", "2.1"])


def test_who_asked_after_a_plans_target_goes_to_the_letter_that_names_the_office(assistant):
    # Kế hoạch 67 sets the target without naming an office; the Công văn gives guiding new HTX
    # to Phòng Kinh tế và Hạ tầng.
    turns = converse(assistant, "Kế hoạch 67-KH/HU của Huyện ủy Vĩnh Linh đặt mục tiêu đến năm 2030 có bao nhiêu HTX?",
                     "vay phong nao lo huong dan thanh lap htx moi")
    assert first_cited(turns[1]) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.1"])


def test_the_same_duty_elsewhere_is_the_one_given_to_that_places_counterparts(assistant):
    # Hà Tĩnh's Phụ lục 1.1 shares more words with Quảng Nam's mục 7 (propaganda to cadres, party
    # members and people); 1.2 gives the columns to Báo Hà Tĩnh and Đài PT-TH tỉnh, the
    # counterparts of Báo Quảng Nam and Đài PT-TH Quảng Nam.
    turns = converse(assistant, "In Quang Nam's letter 2651, which media outlets are asked to step up "
                     "communication on collective economy policy?", "same thing in Ha Tinh - who's on the hook there?")
    assert first_cited(turns[0]) == ("quang-nam-cv-2651-ubnd-ktn-2020", ["7"])
    assert first_cited(turns[1]) == ("ha-tinh-kh-ubnd-2022", ["Phụ lục", "1.2"])


def test_a_matter_pointed_at_with_a_demonstrative_is_the_previous_one_unless_the_message_named_it():
    first = "Theo kế hoạch của UBND tỉnh Hà Tĩnh, cơ quan nào phải chỉ đạo hệ thống Quỹ tín dụng nhân dân?"
    question, rewritten = chat(first, "Thế khi quản lý mấy quỹ đó thì họ phải phối hợp với ai?")[1]
    assert rewritten and "Quỹ tín dụng nhân dân" in question
    # The message names the fund it then points at: a question of its own.
    question, _ = chat(first, "Thế còn quỹ hỗ trợ HTX, ai quản lý quỹ đó?")[1]
    assert "tín dụng" not in question
    # An office pointed at is who is asked about, not the matter.
    question, _ = chat(first, "Thế phòng đó còn phải thống kê số tổ hợp tác, hạn báo cáo là bao giờ?")[1]
    assert "tín dụng" not in question


def test_those_funds_are_answered_from_the_clause_that_answered_about_them(assistant):
    first, follow = converse(assistant, "Theo kế hoạch của UBND tỉnh Hà Tĩnh, cơ quan nào phải chỉ đạo hệ thống "
                                        "Quỹ tín dụng nhân dân tăng cường huy động vốn và xử lý nợ xấu?",
                             "Thế khi quản lý mấy quỹ đó thì họ phải phối hợp với ai?")
    assert first_cited(first) == ("ha-tinh-kh-ubnd-2022", ["Phụ lục", "4.4"])
    assert first_cited(follow) == ("ha-tinh-kh-ubnd-2022", ["Phụ lục", "4.4"])


def test_a_deadline_asked_after_a_clause_without_one_comes_from_the_clause_that_dates_the_work(assistant):
    # Vĩnh Linh mục 1.2 names the offices and communes of the campaign; mục 1 sets "quý I năm 2023".
    first, follow = converse(assistant, "o vinh linh thi ai lo tuyen truyen, uu tien xa nao k",
                             "vu quan triet tuyen truyen do han xong la bao gio")
    assert first_cited(first) == ("vinh-linh-cv-ubnd-nn-2023", ["1", "1.2"])
    assert first_cited(follow) == ("vinh-linh-cv-ubnd-nn-2023", ["1"])
    assert "quý I năm 2023" in follow.answer



def test_the_matter_just_answered_pointed_at_in_another_place_is_answered_not_refused(assistant):
    # As a first question "phòng nào lo khoản vốn này?" says too little to be answered; after
    # Quảng Nam's mục 5 on funding the support policies, it asks for Vĩnh Linh's counterpart.
    first, follow = converse(assistant, "Công văn 2651 của Quảng Nam giao Sở Tài chính làm gì với chính sách hỗ trợ HTX?",
                             "còn ở Vĩnh Linh thì phòng nào lo khoản vốn này?")
    assert first_cited(first) == ("quang-nam-cv-2651-ubnd-ktn-2020", ["5"])
    assert not follow.abstained
    assert first_cited(follow) == ("vinh-linh-cv-ubnd-nn-2023", ["3", "3.2"])


def test_a_figure_asked_for_in_another_place_after_a_figure_is_the_previous_question_there():
    first = "Đến năm 2030 Vĩnh Linh phấn đấu có bao nhiêu hợp tác xã?"
    for follow_up in ("Còn Kiên Giang đặt con số bao nhiêu?", "Bên Kiên Giang thì họ đặt chỉ tiêu bao nhiêu?"):
        question, rewritten = chat(first, follow_up)[1]
        assert rewritten and question == "Đến năm 2030 Kiên Giang phấn đấu có bao nhiêu hợp tác xã?"
    # After a question that asked who, "đặt chỉ tiêu" is what is asked about.
    question, _ = chat("Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?", "Còn Kiên Giang đặt chỉ tiêu bao nhiêu?")[1]
    assert "hướng dẫn thành lập" not in question
