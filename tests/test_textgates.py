"""Each text gate on Chinese and English: one candidate it must reject (with its code), one it must keep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qaug.quality import terms, textgates
from qaug.quality.textgates import GateInput, GateSettings

S = GateSettings()


def code(source: str, variant: str, gate: str, **kw: str) -> str | None:
    r = textgates.GATES[gate](GateInput(source, variant, **kw), S)
    return r.code if r else None


@pytest.mark.parametrize("gate,source,bad,good,kw", [
    ("empty", "写一首关于春天的诗", "  ", "请创作一首以春天为主题的诗", {}),
    ("identical", "Write a poem about spring.", "write a poem about spring",
     "Compose a poem on the theme of spring.", {}),
    ("repetition", "写一首关于春天的诗", "写一首关于春天春天的诗", "请创作一首以春天为主题的诗", {}),
    ("repetition", "Explain the code step by step.", "Explain the code step steps by step.",
     "Walk me through the code one step at a time.", {}),
    ("mixed_script", "提取这个人的个人资料", "提取这个人的个人资料 as JSON", "请抽取此人的个人信息", {}),
    ("mixed_script", "Describe the weather in Beijing.", "Describe the weather in 北京.",
     "Tell me what Beijing's weather is like.", {}),
    ("language_changed", "写一首关于春天的诗", "Write a poem about spring.", "请创作一首以春天为主题的诗", {}),
    ("length_ratio", "Name three primary colours.", "Name.", "List the three primary colours, please.", {}),
    ("answered", "What is the capital of Australia?", "The capital of Australia is Canberra.",
     "Which city is Australia's capital?", {"answer": "Canberra"}),
    ("answered", "用一句话描述北京的天气特点", "北京属于温带季风气候，夏季高温多雨",
     "请用一句话概括北京天气的特点", {"answer": "北京属于温带季风气候，夏季高温多雨，冬季寒冷干燥。"}),
    ("not_a_request", "解释这段代码的作用", "这段代码的作用是解释代码的逻辑。", "请说明这段代码是做什么的", {}),
    ("not_a_request", "Explain what this code does.", "This code sorts a list.",
     "Could you tell me what this code does?", {}),
    ("literal_lost", "Greet {name} by name.", "Greet the user by name.", "Say hello to {name}, using their name.", {}),
    ("number_lost", "计算 (3x + 5) = 20 中 x 的值", "计算方程中 x 的值", "求方程 (3x + 5) = 20 里 x 等于多少", {}),
    ("key_term_lost", "Write a Python function that reverses a string.", "Write a function that reverses a string.",
     "Create a Python function to reverse a string.", {}),
    ("key_term_lost", "请用 JSON 格式列出北京、上海、深圳的人口", "请列出北京、上海、深圳的人口",
     "以 JSON 格式给出北京、上海和深圳的人口数据", {}),
    ("key_term_lost", "列出三种水果", "列出几种水果", "请说出三种水果", {}),
    ("negation_changed", "不要使用循环实现阶乘", "使用循环实现阶乘", "请在不用循环的前提下实现阶乘", {}),
    ("negation_changed", "Sort the list without using sort().", "Sort the list using sort().",
     "Sort the list, but do not call sort().", {}),
    ("constraint_added", "Write a poem about spring.", "Write a poem about spring in five lines.",
     "Compose a poem on the theme of spring.", {}),
    ("constraint_added", "写一首关于春天的诗", "用英文写一首关于春天的诗", "请创作一首以春天为主题的诗", {}),
    ("off_topic", "写一首关于春天的诗", "计算圆的面积", "请创作一首以春天为主题的诗", {}),
    ("near_duplicate", "Write a short poem about the spring season.", "Write a short poem about the spring season!!",
     "Compose a brief poem about springtime.", {}),
    ("near_duplicate", "Identify the main character in the passage and describe her in one sentence.",
     "Identify the main character in the text and describe her in one sentence.",
     "Who is the main character of the passage? Describe her in one sentence.", {}),
    ("part_dropped", "How much interest does the bond pay over 3 years? Show your work.",
     "How much interest does the bond pay over 3 years?",
     "Showing your work, find the interest the bond pays over 3 years.", {}),
    ("part_dropped", "小王向银行借款50000元，借期3年。到期时他一共需要归还多少元（本金加利息）？",
     "小王向银行借款50000元，借期3年。到期时他一共需要归还多少元？",
     "小王从银行借了50000元，为期3年，到期时连本带利（本金加利息）总共要还多少元？", {}),
])
def test_gate_rejects_bad_and_keeps_good(gate: str, source: str, bad: str, good: str, kw: dict) -> None:
    assert code(source, bad, gate, **kw) == gate
    assert code(source, good, gate, **kw) is None


def test_source_parts_are_sentences_and_bracketed_notes() -> None:
    parts = textgates.source_parts("It costs $4.50 each. Show your work! 到期时归还多少元（本金加利息）？")
    assert parts == ["It costs $4.50 each.", "Show your work!", "到期时归还多少元", "本金加利息"]
    # one word, or one pair of Chinese characters, is too little to tell a part is gone
    assert code("Convert this to JSON. Thanks.", "Turn this into JSON.", "part_dropped") is None
    assert textgates.part_units("的了是在") == set()


def test_duplicate_of_a_sibling() -> None:
    g = GateInput("写一首关于春天的诗", "请创作一首春天的诗", siblings=("请创作一首春天的诗。",))
    assert textgates.duplicate(g, S).code == "duplicate"


def test_chinese_paraphrase_is_not_off_topic() -> None:
    """The old character 3-gram floor called this 0.00 similar; content-unit overlap keeps it."""
    assert textgates.check(GateInput("写一首关于春天的诗", "请创作一首以春天为主题的诗"), S) is None


def test_request_gates_apply_to_instructions_only() -> None:
    g = GateInput("这部电影太好看了", "这部影片非常精彩", role="data", answer="正面")
    assert textgates.check(g, S) is None


def test_context_terms_are_not_added_constraints() -> None:
    """'this Python function' is not new when the Alpaca input is Python code."""
    g = GateInput("Fix the bug in this function.", "Find and fix the bug in this Python function.",
                  context="def add(a, b):\n    return a - b")
    assert textgates.constraint_added(g, S) is None


def test_must_keep_lists_terms_numbers_and_literals() -> None:
    keep = terms.must_keep("Write a Python function that returns the first {n} of 3 lists as JSON.")
    assert {"Python", "JSON", "3", "{n}"} <= set(keep)


DEV = Path(__file__).parent / "data" / "quality" / "dev.jsonl"


def test_dev_set_regression() -> None:
    """The gates on the labelled dev set stay at or above what scripts/bench_quality.py reported."""
    from qaug.augment.catalog import registry
    from qaug.score import pair_from, score_pairs

    rows = [json.loads(x) for x in DEV.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert len(rows) >= 120
    reg = registry()
    pairs = [pair_from({k: r[k] for k in ("source", "candidate", "method", "answer", "context") if k in r}, reg, str(i))
             for i, r in enumerate(rows)]
    keep = [ln["keep"] for ln in score_pairs(pairs)]
    good = [r["verdict"] == "good" for r in rows]
    kept_good = sum(k and g for k, g in zip(keep, good))
    assert kept_good / sum(good) >= 0.9
    assert sum(not k for k, g in zip(keep, good) if not g) / sum(not g for g in good) >= 0.8
    assert {r["kind"] for r in rows if r["verdict"] == "bad"} >= {
        "answered", "entity_or_language_changed", "constraint_dropped", "constraint_added", "negation_changed",
        "not_a_request", "degenerate", "off_topic"}


def test_a_placeholder_the_source_lacks_is_added() -> None:
    g = GateInput("Write a greeting for a new colleague.", "Write a greeting for {name}, a new colleague.")
    assert textgates.constraint_added(g, S).detail == "adds placeholder '{name}'"


@pytest.mark.parametrize("source,variant", [
    ("Write it using iteration, not recursion.", "Using iteration rather than recursion, write it."),
    ("Write a story of exactly five sentences.", "Tell a five-sentence story, no more, no fewer."),
    ("小明有15个苹果，送给小红4个。", "小明原来有十五个苹果，给了小红4个。"),
    ("用SQL查询工资高于10000元的员工。", "写一条SQL语句，查出工资高于一万元的员工。"),
])
def test_paraphrases_of_negations_and_numbers_are_kept(source: str, variant: str) -> None:
    assert textgates.check(GateInput(source, variant), S) is None


def test_a_number_spelled_in_the_source_is_not_taken_from_the_answer() -> None:
    g = GateInput("Return the top five customers by total order amount.", "List the 5 customers with the largest "
                  "total order amount.", answer="SELECT name FROM customers ORDER BY total DESC LIMIT 5;")
    assert textgates.answered(g, S) is None


def test_a_language_named_by_the_code_beside_it_is_not_lost() -> None:
    g = GateInput("Fix the bug in this JavaScript code.", "Find and fix the bug in the code below.",
                  context="for (let i = 0; i <= 10; i++) { console.log(i) }")
    assert textgates.key_term_lost(g, S) is None


@pytest.mark.parametrize("source,variant", [
    ("用Go写一个函数`SumEven(nums []int) int`，不要使用递归。", "不用递归，写一个Go函数`SumEven(nums []int) int`。"),
    ("Calculate the compound annual growth rate (CAGR) from 2019 to 2023.",
     "What was the compound annual growth rate from 2019 to 2023?"),
    ("Name four cities in Portugal other than Lisbon and Porto.",
     "Apart from Lisbon and Porto, list 4 Portuguese cities."),
    ("Convert the employee list below into CSV format with a header row.",
     "Turn the employee list below into comma-separated values with a header row."),
    ("贷款本金为20万元，计算3年的利息。", "贷款本金200000元，请算出3年的利息。"),
    ("判断新闻标题属于哪个类别：体育、财经、科技、娱乐。", "请从体育、财经、科技、娱乐四个类别中为新闻标题选一个。"),
    ("列举五个世界文化遗产，不包括长城。", "请列出五项世界文化遗产，长城除外。"),
    ("写一个Python函数`mask_phone(phone)`。", "请用Python实现函数`mask_phone(phone)`。"),
])
def test_general_paraphrase_patterns_pass(source: str, variant: str) -> None:
    assert textgates.check(GateInput(source, variant), S) is None


def test_an_answer_label_is_not_the_answer() -> None:
    g = GateInput("Calculate the daily dose for a 68 kg patient at 25 mg/kg/day.",
                  "Work out the daily dose for a 68 kg patient at 25 mg/kg/day.", answer="Daily dose: 1700 mg")
    assert textgates.answered(g, S) is None


def test_a_question_word_inside_a_statement_does_not_make_it_a_request() -> None:
    assert not terms.is_request("Precision and recall are measures of how well a classifier works.")
    assert terms.is_request("How does a bicycle gear work") and terms.is_request("Explain how a gear works.")
    g = GateInput("Explain precision and recall with a simple example.",
                  "Precision and recall are measures of how well a classifier finds the right items.")
    assert textgates.not_a_request(g, S).code == "not_a_request"


@pytest.mark.parametrize("source,variant,expect", [
    # an offered option keeps its article: "a cold or the flu" offers cold and flu
    ("How can I tell whether I have a cold or the flu?", "How can I determine if I have a cold?", "key_term_lost"),
    ("How can I tell whether I have a cold or the flu?", "How do I work out if it is the flu or a cold?", None),
    # a length qualifier is kept in any form of its kind, and a new one is an added constraint
    ("Convert the invoice to JSON and briefly point out anything inconsistent.",
     "Convert the invoice to JSON and note anything inconsistent.", "key_term_lost"),
    ("Convert the invoice to JSON and briefly point out anything inconsistent.",
     "Turn the invoice into JSON, with a short note on anything inconsistent.", None),
    ("审查下面的合同条款，简要指出风险。", "请审查这条合同条款，指出风险。", "key_term_lost"),
    ("布洛芬和对乙酰氨基酚有什么区别？", "布洛芬和对乙酰氨基酚有什么不同？请详细说明。", "constraint_added"),
    ("Explain the clause to a tenant.", "Briefly explain the clause to a tenant.", "constraint_added"),
    # beside an explicit bound (two sentences, 20 words, 15个字) a brevity word adds or drops nothing
    ("Summarize the paragraph in no more than 20 words.", "Briefly summarize the text in no more than 20 words.", None),
    ("用两句话概括下面这段文字的主要内容。", "简要介绍一下这段文字的主要内容，用两句话描述。", None),
    ("Write a short story of exactly five sentences.", "Tell a story in exactly five sentences.", None),
])
def test_options_and_length_qualifiers(source: str, variant: str, expect: str | None) -> None:
    got = [code(source, variant, g) for g in ("key_term_lost", "constraint_added")]
    assert (expect in got) if expect else got == [None, None], got


def test_length_words_in_data_are_just_words() -> None:
    review = "Short battery life, but a brilliant screen."
    assert code(review, "Brilliant screen, though the battery does not last.", "key_term_lost", role="data") is None
    assert code("Great screen.", "A great screen, briefly put.", "constraint_added", role="data") is None


@pytest.mark.parametrize("source,variant,changed", [
    ("My lab report shows an HbA1c of 6.1%. What does that mean?",
     "What does an HbA1c of 6.1% signify in your lab report?", True),
    ("How can I tell whether I have a cold or the flu?", "Can you check if you have a cold or the flu?", True),
    ("How can I tell whether I have a cold or the flu?", "How do I know if I have a cold or the flu?", False),
    ("Tell me about the French Revolution.", "Can you explain the French Revolution?", False),  # me: a request's object
    ("Can I get a refund for a late order?", "Can you give me a refund for a late order?", False),
    ("我父亲62岁，日常生活中需要注意些什么？", "你父亲62岁，日常生活中需要注意些什么？", True),
    ("我父亲62岁，日常生活中需要注意些什么？", "我的父亲今年62岁，平时要注意什么？", False),
])
def test_person_changed(source: str, variant: str, changed: bool) -> None:
    assert (code(source, variant, "person_changed") == "person_changed") is changed
    assert code(source, variant, "person_changed", role="data") is None  # a review's "I" is the data's own
