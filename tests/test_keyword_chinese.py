"""Chinese written without spaces is cut into words on the keyword side (store/chinese_terms)."""

from searchengine.store.chinese_terms import cut
from searchengine.store.keywords import coverage, highlights, matches, parse_query


def test_a_run_is_cut_into_dictionary_words_without_function_words():
    q = parse_query("机器学习的方法")
    assert q.terms == ("机器", "学习", "方法")
    assert q.whole == ("机器学习的方法",)
    assert parse_query("一段音乐").terms == ("音乐",)  # 一段: a measure phrase, no keyword meaning
    assert parse_query("一杯咖啡").terms == ("咖啡",) and parse_query("公园里的狗").terms == ("公园", "狗")


def test_single_characters_outside_the_dictionary_are_joined_and_a_lone_one_kept():
    assert cut("揉纸的声音") == ["揉纸", "声音"]  # 揉纸 is in no dictionary: kept as written
    assert parse_query("狗的声音").terms == ("狗", "声音")  # 狗 alone is a word
    assert parse_query("的").terms == ()  # a function word alone is no keyword


def test_a_dictionary_word_stays_whole_and_other_scripts_are_untouched():
    assert parse_query("龙井茶").terms == ("龙井茶",) and parse_query("龙井茶").whole == ()
    q = parse_query("iPhone手机 case")
    assert q.terms == ("iPhone", "手机", "case")
    assert parse_query("東京タワー").terms == ("東京", "タワー")


def test_a_unit_holding_some_of_the_words_matches_and_the_run_is_highlighted_whole():
    q = parse_query("揉纸的声音")
    assert matches("Crumpling, crinkling 揉纸声", "a.wav", q)
    assert coverage("Crumpling, crinkling 揉纸声", "a.wav", q) == 0.5
    assert not matches("Beep, bleep 哔哔声", "b.wav", q)
    text = "他说：揉纸的声音很大"
    assert [text[a:b] for a, b in highlights(text, q)] == ["揉纸的声音"]


def test_quoted_chinese_stays_a_phrase():
    q = parse_query('"揉纸的声音"')
    assert q.phrases == ("揉纸的声音",) and q.terms == ()


def test_a_character_written_against_a_word_is_bound_and_counts_for_half_a_word():
    from searchengine.store.chinese_terms import cut_marked

    assert cut_marked("闹钟响了") == [("闹钟", False), ("响", True)]  # 响 after 闹钟: bound
    assert cut_marked("相机快门声")[-1] == ("声", True) and cut_marked("白噪音")[0] == ("白", True)
    assert cut_marked("狗的声音") == [("狗", False), ("声音", False)]  # 狗 stands alone: a word
    q = parse_query("闹钟响了")
    assert q.terms == ("闹钟", "响") and q.weak == ("响",)
    assert coverage("Thump, thud 砰的闷响", "a.wav", q) == 1 / 3  # 响 inside 闷响: below MIN_COVERAGE
    assert coverage("Alarm clock 闹钟", "a.wav", q) == 2 / 3
    assert parse_query("哔的一声").weak == ()  # a lone term is never weak
    assert coverage("Bark 狗叫", "a.wav", parse_query("狗的声音")) == 0.5  # as before
