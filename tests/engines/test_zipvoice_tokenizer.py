"""ZipVoice tokenization: English through espeak-ng, Chinese through pinyin, tokens.txt and metadata."""

from __future__ import annotations

from pathlib import Path

import pypinyin  # noqa: F401 - voxhub[zipvoice], in the test extra: missing must fail, not skip
import pytest

from engines.zipvoice.tokenizer import Tokenizer, add_punctuation, read_tokens, segments
from tests.zipvoice_graphs import tokens_table, write_tokens


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    path = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    write_tokens(path, tokens_table())
    return Tokenizer.from_files(path, {"use_espeak": "1", "use_pinyin": "1"})


def test_tokens_file_keeps_the_space_token_and_reads_the_sherpa_layout(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text("_\t0\n \t3\n,\t4\nzh0\t5\n\n")
    assert read_tokens(path) == {"_": 0, " ": 3, ",": 4, "zh0": 5}
    path.write_text("_ 0\nang1 7\n")  # space separated (sherpa-onnx style)
    assert read_tokens(path) == {"_": 0, "ang1": 7}
    path.write_text("a\t1\n")
    with pytest.raises(ValueError, match="no pad token"):
        read_tokens(path)
    path.write_text("_\t0\nbroken line\tx\n")
    with pytest.raises(ValueError, match=r"tokens.txt:2"):
        read_tokens(path)


def test_english_becomes_ipa_with_stress_spaces_and_punctuation(tokenizer: Tokenizer) -> None:
    tokens, ids = tokenizer.encode("Hello, world")
    text = "".join(tokens)
    assert text.startswith("həlˈoʊ, wˈɜːld")
    assert text.endswith(".")  # the final full stop upstream adds
    assert " " in tokens and "," in tokens and "ˈ" in tokens
    assert ids == [tokenizer.table[t] for t in tokens] and tokenizer.table["_"] not in ids


def test_english_numbers_are_read_as_words(tokenizer: Tokenizer) -> None:
    # The hub reads numbers out (hub.text.normalize) before the engine sees the text.
    from hub.text import normalize

    with_digits = "".join(tokenizer.encode(normalize("I have 3 apples and 21 pears!"))[0])
    spelled = "".join(tokenizer.encode("I have three apples and twenty-one pears!")[0])
    assert with_digits == spelled
    assert "θɹˈiː" in with_digits and with_digits.endswith("!")


def test_chinese_becomes_initials_and_tone3_finals(tokenizer: Tokenizer) -> None:
    tokens, _ = tokenizer.encode("你好，世界！")
    # 你好 → ni2 hao3 after tone sandhi (3-3 → 2-3); full-width punctuation → ASCII
    assert tokens == ["n0", "i2", "h0", "ao3", ",", "sh0", "i4", "j0", "ie4", "!"]


def test_chinese_numbers_are_read_in_chinese(tokenizer: Tokenizer) -> None:
    assert tokenizer.encode("我有3个")[0] == tokenizer.encode("我有三个")[0]
    assert tokenizer.encode("120034元")[0] == tokenizer.encode("十二万零三十四元")[0]
    assert tokenizer.encode("3.14")[0] == []  # only digits: no language segment, skipped as upstream
    assert tokenizer.encode("百分之50")[0] == tokenizer.encode("百分之五十")[0]


def test_mixed_text_overrides_and_tags(tokenizer: Tokenizer) -> None:
    assert segments("Hi 你好 [laugh] <zhong1>") == [("en", "Hi "), ("zh", "你好 "), ("tag", "[laugh]"),
                                                    ("pinyin", "<zhong1>")]  # fmt: skip
    tokens, _ = tokenizer.encode("OK, 好的。")
    assert tokens[-5:] == ["h0", "ao3", "d0", "e5", "."]  # neutral tone as 5, 。 → .
    assert "".join(tokens).startswith("ˌoʊkˈeɪ,")
    assert tokenizer.tokens("<zhong1>") == ["zh0", "ong1"]


def test_final_punctuation_is_added_once() -> None:
    assert add_punctuation("hello") == "hello."
    assert add_punctuation("hello? ") == "hello?"
    assert add_punctuation("你好。") == "你好。"


def test_unknown_tokens_are_dropped_and_metadata_switches_languages(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    write_tokens(path, {"_": 0, " ": 1, ".": 2, "n0": 3, "i3": 4})
    small = Tokenizer.from_files(path, {"use_espeak": "True", "use_pinyin": "True"})  # older exports
    assert small.encode("你")[0] == ["n0", "i3", "."]
    assert small.encode("Hello 你.")[0] == ["n0", "i3", "."]  # no IPA letters in this vocabulary
    no_pinyin = Tokenizer.from_files(path, {"use_pinyin": "0"})
    assert no_pinyin.encode("你")[0] == []  # a model without pinyin cannot read Chinese at all
