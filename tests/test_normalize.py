"""How Vietnamese text is normalized and tokenized: what a user notices when the spelling
of a question differs from the spelling of the document."""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from index.normalize import fold, normalize_text, strip_diacritics, tokenize

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.mark.parametrize(
    ("old_style", "new_style"),
    [("hoà", "hòa"), ("thuỷ", "thủy"), ("uỷ", "ủy"), ("khoẻ", "khỏe"), ("Hoá", "Hóa"), ("tuỳ", "tùy"),
     ("HOÀ", "HÒA"), ("Uỷ ban", "Ủy ban")],
)
def test_old_and_new_tone_placement_are_the_same_token(old_style, new_style):
    assert normalize_text(old_style) == normalize_text(new_style)
    assert tokenize(old_style) == tokenize(new_style)


def test_tone_placement_is_unified_to_the_form_the_documents_mostly_use():
    assert normalize_text("Cộng hoà, văn hoá, cấp uỷ, thuỷ lợi") == "Cộng hòa, văn hóa, cấp ủy, thủy lợi"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("hòan thành", "hoàn thành"),   # closed syllable: the tone sits on the last vowel
        ("hoàn thành", "hoàn thành"),
        ("người", "người"),             # a vowel with a hat or horn carries the tone
        ("thuở", "thuở"),
        ("qúy I", "quý I"),             # qu and gi are consonants, not vowels
        ("gìa", "già"),
        ("giữ gìn", "giữ gìn"),         # ... unless i is the only vowel
        ("khuỷu", "khuỷu"),             # three vowels: the middle one
        ("Huỳnh", "Huỳnh"),
    ],
)
def test_tone_mark_lands_on_the_vowel_of_the_standard_rule(typed, expected):
    assert normalize_text(typed) == expected


def test_case_and_punctuation_are_kept():
    assert normalize_text("UBND huyện: Phòng Tài chính - Kế hoạch (TC-KH)!") == (
        "UBND huyện: Phòng Tài chính - Kế hoạch (TC-KH)!"
    )


def test_words_that_are_not_vietnamese_syllables_are_left_alone():
    assert normalize_text("café résumé VietGAP") == "café résumé VietGAP"


def test_nfd_input_equals_nfc_input():
    sentence = "Ủy ban nhân dân huyện Vĩnh Linh hướng dẫn giải thể hợp tác xã"
    decomposed = unicodedata.normalize("NFD", sentence)
    assert decomposed != sentence
    assert normalize_text(decomposed) == sentence
    assert tokenize(decomposed) == tokenize(sentence)


def test_tone_typed_before_the_hat_still_makes_one_letter():
    # e + acute + circumflex, as some keyboards emit it; Unicode alone would not compose it.
    assert normalize_text("ti\u0065\u0301\u0302p") == "tiếp"


def test_control_characters_removed():
    dirty = "Hợp\x00 tác\x07 xã\u200b\ufeff\u00ad\r\nThành\tlập"
    assert normalize_text(dirty) == "Hợp tác xã\nThành\tlập"


def test_unusual_spaces_become_plain_spaces():
    assert normalize_text("hợp\u00a0tác\u2003xã") == "hợp tác xã"


def test_icelandic_eth_typed_for_d_with_stroke_is_read_as_d_with_stroke():
    assert normalize_text("Ðảng") == "Đảng"
    assert tokenize("Ðảng") == tokenize("Đảng")


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.stem)
def test_normalization_is_idempotent(path):
    once = normalize_text(path.read_text(encoding="utf-8"))
    assert normalize_text(once) == once
    assert fold(fold(once)) == fold(once)


def test_fold_ignores_case_and_tone_placement():
    assert fold("ỦY BAN NHÂN DÂN") == fold("uỷ ban nhân dân") == "ủy ban nhân dân"


def test_strip_diacritics_removes_every_vietnamese_mark_and_keeps_case():
    assert strip_diacritics("Đường Hồ Chí Minh, Ủy ban, thuở, người") == "Duong Ho Chi Minh, Uy ban, thuo, nguoi"
    vowels = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    assert strip_diacritics(vowels) == "a" * 17 + "e" * 11 + "i" * 5 + "o" * 17 + "u" * 11 + "y" * 5 + "d"
    assert strip_diacritics(vowels.upper()) == strip_diacritics(vowels).upper()


def test_question_without_diacritics_shares_tokens_with_the_accented_clause():
    clause = set(tokenize("hướng dẫn các hợp tác xã này giải thể tự nguyện theo khoản 1 Điều 54 Luật Hợp tác xã"))
    question = tokenize("giai the tu nguyen htx")
    assert {"giai", "the", "giai_the", "tu", "nguyen", "tu_nguyen"} <= set(question)
    assert set(question) - clause == {"htx", "nguyen_htx"}


def test_unaccented_syllables_do_not_match_a_different_accented_word_exactly():
    # "thế" and "thể" share only their unaccented form, never the exact token.
    assert "thể" in tokenize("giải thể") and "thể" not in tokenize("giải thế")


def test_document_numbers_split_into_searchable_parts():
    tokens = tokenize("Nghị quyết số 20-NQ/TW")
    assert {"20", "nq", "tw", "20_nq", "nq_tw"} <= set(tokens)


def test_bigrams_keep_word_order():
    assert {"hop_tac", "tac_xa"} <= set(tokenize("hợp tác xã"))
    assert "hop_tac" not in tokenize("tác hợp")


def test_stopwords_are_dropped_and_bigrams_bridge_them():
    with_and = tokenize("Sở Nông nghiệp và Phát triển nông thôn")
    without_and = tokenize("so nong nghiep phat trien nong thon")
    assert "và" not in with_and and "va" not in with_and
    assert "nghiep_phat" in with_and and "nghiep_phat" in without_and


def test_english_the_is_not_a_stopword_because_it_is_the_unaccented_the_of_giai_the():
    assert "giai_the" in tokenize("giai the htx")
    assert "the" in tokenize("kinh te tap the")


def test_bigrams_stop_at_sentence_ends_but_not_inside_numbers():
    tokens = tokenize("thành lập hợp tác xã. Rà soát mục 2.1")
    assert "xa_ra" not in tokens
    assert "2_1" in tokens


def test_days_and_months_match_with_or_without_leading_zero():
    assert {"2", "2_2", "2_2023"} <= set(tokenize("ngày 02/02/2023")) & set(tokenize("ngay 2/2/2023"))


def test_final_y_and_i_spellings_match():
    assert "ti_le" in tokenize("tỷ lệ") and "ti_le" in tokenize("ti le") and "ti_le" in tokenize("tỉ lệ")
    assert "qui_dinh" in tokenize("quy định") and "qui_dinh" in tokenize("qui dinh")
    # ủy and ủi are different words
    assert not set(tokenize("ủy")) & set(tokenize("ủi"))


def test_empty_and_punctuation_only_text_has_no_tokens():
    assert tokenize("") == [] and tokenize(" - / .") == []
    assert normalize_text("") == ""
