"""What an instruction says that a faithful rewrite must keep: key terms, counts, negation, request form.

These are the text features the gates compare between a source and its variant, in Chinese and
English. Each is a small, explicit word list or pattern, so a reject can name exactly what was
lost, and the same lists tell the model up front which terms it must keep.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA = "\u3040-\u30ff"
HAN = re.compile(f"[{_HAN}]")
CJK = re.compile(f"[{_HAN}{_KANA}\uac00-\ud7af]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#'’-]*")

# -- names of languages and formats ------------------------------------------------------------
#: programming languages (spellings as people write them, matched case-insensitively unless noted)
PROGRAMMING = ("Python", "JavaScript", "TypeScript", "Java", "C++", "C#", "Golang", "Go", "Rust", "Ruby", "PHP",
               "Swift", "Kotlin", "Scala", "Perl", "Haskell", "MATLAB", "Lua", "Julia", "Dart", "Bash", "Shell",
               "PowerShell", "SQL", "MySQL", "PostgreSQL", "SQLite", "R", "C", "Objective-C", "Fortran", "COBOL",
               "Elixir", "Erlang", "Clojure", "F#", "VBA", "Verilog", "VHDL", "Solidity", "Pandas", "NumPy", "React",
               "Vue", "Django", "Flask", "Spark", "Excel")
#: data and document formats
FORMATS = ("JSON", "JSONL", "CSV", "TSV", "XML", "YAML", "TOML", "HTML", "CSS", "Markdown", "LaTeX", "PDF", "SVG",
           "INI", "Protobuf", "Parquet", "ISO 8601", "RFC 3339", "UTF-8", "ASCII", "bullet points",
           "bullet list", "numbered list", "表格", "列表", "清单", "代码块", "code block", "step by step",
           "step-by-step", "分步", "逐步", "一步一步", "一步步")
#: "a table" / "as a table" asks for a table; "the customers table" only names one
_EN_TABLE = re.compile(r"\b(?:a|an|as|in|into)\s+(?:[\w-]+\s+)?(?:table|tabular)\b", re.IGNORECASE)
#: natural languages: the spellings of one language are one term (英文 = 英语)
NATURAL = {
    "en": ("English", "英文", "英语"), "zh": ("Chinese", "Mandarin", "中文", "汉语", "普通话"),
    "fr": ("French", "法语", "法文"), "es": ("Spanish", "西班牙语", "西班牙文"), "de": ("German", "德语", "德文"),
    "ja": ("Japanese", "日语", "日文"), "ko": ("Korean", "韩语", "韩文", "朝鲜语"), "ru": ("Russian", "俄语", "俄文"),
    "it": ("Italian", "意大利语", "意大利文"), "pt": ("Portuguese", "葡萄牙语", "葡萄牙文"),
    "ar": ("Arabic", "阿拉伯语", "阿拉伯文"), "hi": ("Hindi", "印地语"), "vi": ("Vietnamese", "越南语"),
    "th": ("Thai", "泰语"), "nl": ("Dutch", "荷兰语"), "el": ("Greek", "希腊语"), "la": ("Latin", "拉丁语"),
    "yue": ("Cantonese", "粤语"), "wenyan": ("classical Chinese", "文言文", "古文"),
}
#: a country and the adjective its language name doubles as ("Portuguese cities" = cities in Portugal)
COUNTRIES = {"pt": ("Portugal", "葡萄牙"), "fr": ("France", "法国"), "de": ("Germany", "德国"),
             "es": ("Spain", "西班牙"), "ja": ("Japan", "日本"), "zh": ("China", "中国"), "ko": ("Korea", "韩国"),
             "it": ("Italy", "意大利"), "ru": ("Russia", "俄罗斯"), "el": ("Greece", "希腊"),
             "nl": ("Netherlands", "荷兰"), "vi": ("Vietnam", "越南"), "th": ("Thailand", "泰国"),
             "en": ("England", "英国")}
_COUNTRY_FORMS = {c.casefold(): (c, NATURAL[code][0]) for code, names in COUNTRIES.items() for c in names[:1]}
#: single letters and common words that name a language only when written exactly so, mid-sentence
_CASE_SENSITIVE = {"R", "C", "Go", "Shell", "Spark", "Vue", "React", "Julia", "Dart", "Swift", "Rust", "Ruby", "Lua",
                   "Excel", "Pandas", "Latin", "Flask"}
#: spellings that say the same in a Chinese text: a Latin name and its usual Chinese word
_EQUIVALENT = {"app": ("App", "应用", "软件", "程序", "APP"), "api": ("API", "接口"), "ai": ("AI", "人工智能"),
               "excel": ("Excel", "电子表格"), "step by step": ("step by step", "step-by-step", "steps"),
               "csv": ("CSV", "comma-separated", "comma separated", "逗号分隔"),
               "tsv": ("TSV", "tab-separated", "tab separated", "制表符分隔"),
               "bullet points": ("bullet points", "bullet list", "bulleted list", "bullets"),
               "bullet list": ("bullet list", "bullet points", "bulleted list", "bullets"),
               "step-by-step": ("step-by-step", "step by step", "steps"),
               "分步": ("分步", "逐步", "一步一步", "一步步", "步骤"),
               "逐步": ("逐步", "分步", "一步一步", "一步步", "步骤"),
               "一步一步": ("一步一步", "一步步", "逐步", "分步", "步骤"),
               "一步步": ("一步步", "一步一步", "逐步", "分步", "步骤")}

# -- counts ---------------------------------------------------------------------------------------
EN_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
              "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_ZH_CLASSIFIERS = "个种条点段句首篇位名项步行列字词张本道类次天年倍页份组对则件封章节幅门样处家所部集轮"
#: "one" counts only with a unit of length or amount: "one sentence" is a constraint, "one function" is not
_EN_ONE_UNITS = ("sentence", "word", "paragraph", "line", "phrase", "page", "example", "question", "bullet", "emoji")
_EN_COUNT = re.compile(r"\b(" + "|".join(EN_NUMBERS[2:]) + r")\b|\bone\s+(?=(?:" + "|".join(_EN_ONE_UNITS) + r"))"
                       r"|\b(single|a dozen|dozen|a couple of|a pair of)\b", re.IGNORECASE)
_ZH_COUNT = re.compile(f"(?<![哪这那每某同任另第])(?:([两二三四五六七八九十百千万]+)(?=[{_ZH_CLASSIFIERS}])"
                       "|一(?=[句行]))")

# -- negation -----------------------------------------------------------------------------------------
_EN_NEG = re.compile(r"\b(?:not|no|never|none|nor|neither|without|cannot|avoid|avoiding|refrain|exclude|excluding|"
                     r"omit|omitting|except|excluded|nothing|nobody|n't|rather than|instead of|leave out|leaves out|"
                     r"leaving out|left out|other than|apart from)\b|n't\b|"
                     r"\bleav(?:e|es|ing)\b[^.;:]{1,40}?\bout\b", re.IGNORECASE)
#: Chinese negation markers, with the common words in which the character is not a negation removed first
_ZH_NOT_NEG = re.compile("不超过|不多于|不少于|不低于|不高于|不只|不止|不同|不断|不仅|不过|不但|不管|不论|不少|不错|"
                         "不久|不如|不止|不时|不妨|不禁|不外|无论|非常|并非不|是否|能否|可否|与否|否则|未来|分别|区别|"
                         "特别|别人|别的|识别|类别|性别|级别|差别|个别|告别|离别|别名|无线|无人机|毫无疑问")
_EN_NOT_NEG = re.compile(r"\b(?:no|not) (?:more|less|fewer|longer|shorter) than\b|\bnot exceed\w*|\bno later than\b|"
                         # "no more, no fewer": exactly
                         r"\bno (?:more|less|fewer)\W+(?:and |or )?no (?:more|less|fewer)\b",
                         re.IGNORECASE)
_ZH_NEG = re.compile("不|没|别|无|勿|未|非|否|莫|禁止|避免|切忌|免去|省略|排除|除了|除去|除外")

# -- the form of a request -------------------------------------------------------------------------
_EN_VERBS = frozenset("""
write list give explain describe summarize summarise classify translate convert create generate compose draft find
identify determine calculate compute solve fix correct rewrite rephrase paraphrase extract parse name tell provide show
compare contrast analyze analyse evaluate suggest recommend outline define implement design develop build make produce
prepare check decide label categorize categorise tag count sort rank order format return answer predict estimate plan
propose help state detail elaborate proofread edit improve simplify shorten expand continue complete fill match select
choose pick highlight mark note spot detect debug refactor optimize optimise test verify validate prove derive express
turn transform change modify update reorder arrange group split merge combine read review assess rate score grade
critique argue discuss brainstorm imagine pretend act respond reply introduce present illustrate demonstrate walk guide
teach break map infer deduce interpret clarify specify enumerate mention cite quote reword reformulate recast render put
use apply look take keep let please kindly offer share recite count convert sum total add subtract multiply divide
simulate play draw sketch code program script query search locate retrieve fetch get pull compile design devise invent
craft come think consider assume suppose do conjugate diagnose calculate measure round resolve condense sum rectify
formulate transcribe caption title annotate flag convey restate summarise depict portray narrate recount describe
interpret split tokenize tokenise normalize normalise clean extract filter aggregate join visualize visualise plot chart
sort tell rank mark rate pick correct deliver supply draft craft generate produce create invent devise construct
assemble set configure install run execute evaluate benchmark profile log document comment translate localize answer
""".split())
_EN_ASK = re.compile(r"\?|\b(?:please|kindly|could you|can you|would you|will you|i need|i want|i'd like|i would like|"
                     r"help me|tell me|show me|let's|let us|your task|you should|you need to|you must|i'm looking for|"
                     r"i am looking for)\b", re.IGNORECASE)
#: question words ask only where a clause starts with them ("How does X work"), not inside one ("measures of how well")
_EN_WH = frozenset("what which who whom whose when where why how is are do does did "
                   "can could would should will".split())
_EN_CLAUSE_START = re.compile(r"(?:^|[.!?:;,\n]\s*|\b(?:then|and|but|also)\s+)"
                              r"(?:(?:now|first|then|also|just|briefly|simply|quickly|carefully|next|finally)\s+)?"
                              r"([A-Za-z]+)", re.IGNORECASE)
_ZH_ASK = re.compile("[?？]|吗|呢|请|帮我|帮忙|麻烦|能否|能不能|可以|可否|如何|怎么|怎样|什么|哪|几|多少|是否|为什么|"
                     "谁|需要你|你需要|要求你|我想|我需要|我要|试着|尝试")
_ZH_VERB_START = re.compile(
    "(?:^|[。！？；;：:\n，,]\\s*)(?:再|然后|并|并且|同时|最后|先|首先|接着)?"
    "(?:写|编写|撰写|起草|创作|作|列|列出|列举|给|给出|提供|解释|说明|阐述|描述|介绍|计算|算|求|求解|解|判断|分析|总结|概括|"
    "归纳|翻译|译|提取|抽取|生成|比较|对比|转换|转化|改写|修改|修复|修正|改正|纠正|找|找出|指出|识别|分类|设计|实现|用|以|"
    "根据|基于|从|把|将|为|按|按照|针对|对|选|选择|推荐|回答|讲|讲讲|谈|谈谈|说|说说|举|举例|整理|查询|统计|排序|检查|证明|"
    "推导|估算|预测|规划|制定|拟|起|取|想|完成|补全|续写|润色|优化|重写|编|画|绘制|构造|构建|搭建|定义|命名|评价|评估|"
    "打分|标注|标记|阅读|读|看|参考|结合|利用|使用|采用|输出|返回|生成|简述|概述|论述|试|请)")


@dataclass(frozen=True)
class Term:
    """A piece of the source a rewrite must keep; any one of `forms` counts as kept."""

    kind: str  # name, language, format, quoted, identifier, count, option, restriction, length
    text: str
    forms: tuple[str, ...]
    value: int | None = None  # a count's number

    def found_in(self, text: str) -> bool:
        return any(_contains(text, form) for form in self.forms)


def _contains(text: str, form: str) -> bool:
    """`form` in `text`: CJK as a substring, Latin as a whole word (case-insensitive, a plural 's' allowed)."""
    if not form:
        return False
    if CJK.search(form):
        return form in text
    flags = 0 if form in _CASE_SENSITIVE else re.IGNORECASE
    pattern = rf"(?<![A-Za-z0-9_]){re.escape(form)}(?:e?s)?(?![A-Za-z0-9_])"
    if form[-1] in "+#":
        pattern = rf"(?<![A-Za-z0-9_]){re.escape(form)}(?![+#A-Za-z0-9_])"
    return re.search(pattern, text, flags) is not None


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


# -- term extraction -------------------------------------------------------------------------------------
_QUOTED = re.compile(r"\"([^\"\n]{1,40})\"|“([^”\n]{1,40})”|‘([^’\n]{1,40})’|「([^」\n]{1,40})」|『([^』\n]{1,40})』|"
                     r"《([^》\n]{1,40})》|(?<![A-Za-z])'([^'\n]{1,40})'(?![A-Za-z])")
_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9]*_[A-Za-z0-9_]+\b|\b[a-z]+[A-Z][A-Za-z0-9]*\b|\b[A-Za-z_][\w.]*\(\)|"
                    r"\b[\w-]+\.(?:py|js|ts|java|go|rs|rb|php|csv|tsv|json|jsonl|txt|md|xml|yaml|yml|html|sql|xlsx|docx)\b")
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,9}s?\b")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Za-z]+)?\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\"“(]\s*)([A-Z][A-Za-z'-]*)")
_OPTIONS_EN = re.compile(r"\b([A-Za-z][\w-]*)\s+or\s+(?:not\s+|(?:a|an|the)\s+)?([A-Za-z][\w-]*)\b", re.IGNORECASE)
_OPTIONS_ZH = re.compile(f"([{_HAN}]{{2}})(?:还是|或者|或)([{_HAN}]{{2}})")
_FUNCTION_EN = frozenset("""
a an the this that these those it its is are was were be been being of to in on at by for with from as and or but if
then than so such into onto over under about above below up down out off not no do does did done can could would should
will shall may might must have has had i you he she we they me him her us them my your his our their what which who whom
whose when where why how all any each every some more most other another same own only also just very too here there
please kindly give me tell
""".split())


def _language_terms(text: str) -> list[Term]:
    out: list[Term] = []
    for name in PROGRAMMING:
        if name in _CASE_SENSITIVE and name in ("R", "C", "Go"):
            # a lone letter or "Go" names a language only beside a word that says so
            if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_+#])\s*(?:语言|代码|程序|language|code|"
                         r"program|function|函数|实现)|"
                         rf"(?:用|in|using|with)\s*{re.escape(name)}(?![A-Za-z0-9_+#])", text):
                out.append(Term("language", name, (name,)))
            continue
        if _contains(text, name) and not (name in _CASE_SENSITIVE and _sentence_initial_only(text, name)):
            forms = (name, "Golang") if name == "Go" else (name, "Go") if name == "Golang" else (name,)
            out.append(Term("language", name, forms))
    for spellings in NATURAL.values():
        hit = next((s for s in spellings if _contains(text, s)), None)
        if hit is not None:
            out.append(Term("language", hit, spellings))
    return out


def _sentence_initial_only(text: str, word: str) -> bool:
    hits = [m.start() for m in re.finditer(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text)]
    starts = {m.start(1) for m in _SENTENCE_START.finditer(text)}
    return bool(hits) and all(h in starts for h in hits)


def _format_terms(text: str) -> list[Term]:
    out = []
    for name in FORMATS:
        if _contains(text, name):
            forms = {"表格": ("表格", "表", "table"), "列表": ("列表", "list", "清单"),
                     "清单": ("清单", "列表", "list")}.get(name) or _EQUIVALENT.get(name.casefold(), (name,))
            out.append(Term("format", name, forms))
    if _EN_TABLE.search(text):
        out.append(Term("format", "table", ("table", "tabular", "表格", "表")))
    return out


def count_terms(text: str) -> list[Term]:
    out = []
    for m in _EN_COUNT.finditer(text):
        word = (m.group(1) or m.group(2) or "one").lower()
        n = EN_NUMBERS.index(word) if word in EN_NUMBERS else {"single": 1, "a dozen": 12, "dozen": 12,
                                                                  "a couple of": 2, "a pair of": 2}.get(word)
        forms: tuple[str, ...] = (word, str(n)) if n is not None else (word,)
        if word in ("one", "single"):
            unit_match = re.match(r"\s*(\w+)", text[m.end():])
            u = unit_match.group(1) if unit_match else ""
            forms = (f"one {u}", f"a {u}", f"single {u}", f"1 {u}", f"a single {u}") if u else ("one", "single")
        out.append(Term("count", m.group(0).strip(), forms, n))
    for m in _ZH_COUNT.finditer(text):
        if m.group(1) is None:  # 一句 / 一段 ...: the unit is the constraint
            unit = text[m.end()]
            out.append(Term("count", f"一{unit}", (f"一{unit}", f"1{unit}", f"1 {unit}", f"单{unit}"), 1))
            continue
        numeral = m.group(1)
        value = zh_number(numeral)
        zh_forms = [numeral] + ([str(value)] if value is not None else [])
        if numeral in ("两", "二"):
            zh_forms += ["两", "二"]
        out.append(Term("count", numeral + text[m.end()], tuple(dict.fromkeys(zh_forms)), value))
    return out


def zh_number(numeral: str) -> int | None:
    """两 -> 2, 十五 -> 15, 二十 -> 20, 三百 -> 300; None for what this simple reader does not parse."""
    if numeral in _ZH_DIGITS:
        return _ZH_DIGITS[numeral]
    total, current = 0, 0
    for ch in numeral:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch in "十百千万":
            unit = {"十": 10, "百": 100, "千": 1000, "万": 10000}[ch]
            total += (current or 1) * unit
            current = 0
        else:
            return None
    return total + current


_RESTRICT_EN = re.compile(r"\b(?:only|solely|exclusively)\b", re.IGNORECASE)
_RESTRICT_ZH = re.compile("(?<![不])(?:只|仅)(?!要|是|不过|有)")
_RESTRICT_FORMS = ("only", "solely", "exclusively", "just", "nothing but", "nothing else", "nothing other", "one of",
                   "只", "仅", "唯一", "其他", "其余", "别的", "择一", "之一")


_ENUM_ZH = re.compile(f"[{_HAN}A-Za-z0-9]+(?:、[{_HAN}A-Za-z0-9]+)+")


def _list_sizes(text: str) -> set[int]:
    """How many items each enumeration of a text has (北京、上海、深圳 -> 3; "A, B, C or D" -> 4)."""
    sizes = {len(m.group(0).split("、")) for m in _ENUM_ZH.finditer(text)}
    for m in re.finditer(r"(?:[\w-]+,\s+)+[\w-]+,?\s+(?:or|and)\s+[\w-]+", text):
        sizes.add(len(re.split(r",\s*(?:or\s+|and\s+)?|\s+(?:or|and)\s+", m.group(0))))
    return sizes


def _enumeration_terms(text: str, covered: set[str]) -> list[Term]:
    """The items of a Chinese enumeration (北京、上海、深圳): a rewrite that drops one changes the task.

    Items between two 、 are exact; the first and last are cut to the length of their neighbour,
    since the run around the list also holds the verb or noun it belongs to (列出北京 / 深圳的人口).
    """
    out: list[Term] = []
    for m in _ENUM_ZH.finditer(text):
        parts = m.group(0).split("、")
        inner = parts[1:-1]
        width = len(inner[0]) if inner else 2
        items = [parts[0][-width:]] + inner + [parts[-1][:len(inner[-1]) if inner else 2]]
        for item in items:
            if len(item) >= 2 and item.casefold() not in covered:
                covered.add(item.casefold())
                out.append(Term("item", item, (item,)))
    return out


#: how long or detailed the answer must be: a rewrite keeps the qualifier in any form of its kind, and adds none.
#: 简单 (simple) and "simple" say nothing of length, so they are not forms of "brief".
LENGTH_FORMS: dict[str, tuple[str, ...]] = {
    "brief": ("brief", "briefly", "short", "concise", "concisely", "succinct", "succinctly", "in a few words",
              "简要", "简短", "简洁", "简明", "扼要", "简述"),
    "detailed": ("detailed", "in detail", "thorough", "thoroughly", "comprehensive", "comprehensively", "in depth",
                 "in-depth", "详细", "详尽", "深入"),
}


def length_terms(text: str) -> list[Term]:
    """'briefly point out', 简要说明, 'explain in detail': each kind of length qualifier a text has, once."""
    out = []
    for forms in LENGTH_FORMS.values():
        hit = next((f for f in forms if _contains(text, f)), None)
        if hit is not None:
            out.append(Term("length", hit, forms))
    return out


def _restriction_terms(text: str) -> list[Term]:
    """'Answer only with the label', 只回答: the answer's form is restricted, and a rewrite must say so too."""
    hit = _RESTRICT_ZH.search(text) if HAN.search(text) else _RESTRICT_EN.search(text)
    return [Term("restriction", hit.group(0), _RESTRICT_FORMS)] if hit else []


def key_terms(text: str) -> list[Term]:
    """Names, languages, formats, quoted strings, identifiers, counts, offered options, an "only" and length
    qualifiers of an instruction.

    Digit numbers, placeholders, URLs and inline code are checked by the literal gate, not here.
    """
    text = nfkc(text)
    terms: list[Term] = []
    terms += _language_terms(text)
    terms += _format_terms(text)
    covered = {f.casefold() for t in terms for f in t.forms}
    for m in _QUOTED.finditer(text):
        q = next(g for g in m.groups() if g is not None).strip()
        if q and q.casefold() not in covered:
            terms.append(Term("quoted", q, (q,)))
            covered.add(q.casefold())
    for m in _IDENT.finditer(text):
        if m.group(0).casefold() not in covered:
            terms.append(Term("identifier", m.group(0), (m.group(0),)))
            covered.add(m.group(0).casefold())
    terms += _name_terms(text, covered)
    terms += count_terms(text)
    terms += _option_terms(text, covered)
    terms += _enumeration_terms(text, covered)
    terms += _restriction_terms(text)
    terms += length_terms(text)
    return terms


def _name_terms(text: str, covered: set[str]) -> list[Term]:
    """Latin-script names: every Latin word in Chinese text; capitalised words and acronyms mid-sentence in English."""
    out: list[Term] = []
    seen = set(covered)
    text = _IDENT.sub(" ", re.sub(r"`[^`\n]+`", " ", text))  # code and identifiers are the literal gate's
    if HAN.search(text):
        for m in LATIN_WORD.finditer(text):
            word = m.group(0).rstrip("'’-")
            if len(word) >= 1 and word.casefold() not in seen and not word.isdigit():
                seen.add(word.casefold())
                out.append(Term("name", word, _EQUIVALENT.get(word.casefold(), (word,))))
        return out
    starts = {m.start(1) for m in _SENTENCE_START.finditer(text)}
    for rx in (_ACRONYM, _CAPITALISED):
        for m in rx.finditer(text):
            word = m.group(0)
            if word in ("I", "OK") or word.casefold() in seen or word.casefold() in _FUNCTION_EN:
                continue
            if m.start() in starts and not _ACRONYM.fullmatch(word):
                continue  # "Write ..." starts a sentence; a name at a sentence start shows up capitalised elsewhere
            seen.add(word.casefold())
            core = word[:-1] if rx is _ACRONYM and word.endswith("s") and word[:-1].isupper() else word
            forms: tuple[str, ...] = _COUNTRY_FORMS.get(core.casefold(), (core,))
            if rx is _ACRONYM:
                forms += _expansion(text, core)
            out.append(Term("name", word, forms))
    return out


def _expansion(text: str, acronym: str) -> tuple[str, ...]:
    """'compound annual growth rate (CAGR)': the words an acronym in parentheses stands for, also a form of it."""
    m = re.search(rf"((?:[A-Za-z][\w-]*\s+){{{len(acronym)}}})\(\s*{re.escape(acronym)}\s*\)", text)
    if not m:
        return ()
    words = m.group(1).split()
    return (" ".join(words),) if [w[0].upper() for w in words] == list(acronym) else ()


def _option_terms(text: str, covered: set[str]) -> list[Term]:
    """The options an instruction offers ("positive or negative", 正面还是负面): a label set to keep."""
    out: list[Term] = []
    pairs = [(m.group(1), m.group(2)) for m in _OPTIONS_EN.finditer(text)]
    pairs += [(m.group(1), m.group(2)) for m in _OPTIONS_ZH.finditer(text)]
    for pair in pairs:
        for word in pair:
            if word.casefold() in _FUNCTION_EN or word.casefold() in covered or len(word) < 2:
                continue
            covered.add(word.casefold())
            out.append(Term("option", word, (word,)))
    return out


def terms_added(source: str, variant: str, own_lang: str) -> list[Term]:
    """Languages, formats, counts, quoted strings and length qualifiers the variant has and the source does not.

    The record's own language is implied ("请用中文写" in a Chinese record), and a language the
    source's code is written in is known ("fix this Python function" for Python code).
    """
    v = nfkc(variant)
    quoted = [Term("quoted", q, (q,)) for m in _QUOTED.finditer(v) if (q := next(g for g in m.groups() if g).strip())]
    variant_terms = _language_terms(v) + _format_terms(v) + count_terms(v) + quoted + length_terms(v)
    src = nfkc(source) + "\n" + " ".join(code_languages(source))
    own = NATURAL.get(own_lang, ())
    source_counts = {t.value for t in count_terms(src) if t.value is not None}
    added = []
    for term in variant_terms:
        if term.kind == "language" and term.text in own:
            continue  # "请用中文写" in a Chinese record says what was implied
        if term.kind == "language" and any(_contains(src, c) for code, names in COUNTRIES.items()
                                           if term.text in NATURAL.get(code, ()) for c in names):
            continue  # "Portuguese cities" where the source says Portugal: the adjective, not a language
        if term.kind == "count":
            if term.value in source_counts or any(_contains(src, f) for f in term.forms) or _digit_in(src, term):
                continue
            if term.value in _list_sizes(src):
                continue  # "从体育、财经、科技、娱乐四个类别中": counting the source's own list adds nothing
        elif any(_contains(src, f) for f in term.forms):
            continue
        added.append(term)
    return added


_PY_HINT = re.compile(r"^\s*(?:def |class |import |from \S+ import |print\(|return )", re.MULTILINE)
_SQL_HINT = re.compile(r"\bSELECT\b[\s\S]+\bFROM\b", re.IGNORECASE)
_JS_HINT = re.compile(r"\b(?:const|let|var)\s+\w+\s*=|=>|\bfunction\s*\w*\s*\(|console\.log\(")
_JAVA_HINT = re.compile(r"\bpublic\s+(?:static\s+)?\w+|System\.out\.print")


def code_languages(text: str) -> list[str]:
    """Languages a text's code is evidently written in (a light sniff: def/import, SELECT...FROM, const/=>)."""
    out = []
    for name, rx in (("Python", _PY_HINT), ("SQL", _SQL_HINT), ("JavaScript", _JS_HINT), ("Java", _JAVA_HINT)):
        if rx.search(text):
            out.append(name)
    return out


def _digit_in(text: str, term: Term) -> bool:
    return any(f.isdigit() and re.search(rf"(?<!\d){f}(?!\d)", text) for f in term.forms)


# -- negation, requests, content -------------------------------------------------------------------------
def negations(text: str) -> int:
    """How many negation markers a text holds (不/没/别/无/勿, not/no/without/never/don't ...)."""
    text = nfkc(text)
    if HAN.search(text):
        stripped = _ZH_NOT_NEG.sub("", text)
        return len(_ZH_NEG.findall(stripped)) + len(_EN_NEG.findall(_EN_NOT_NEG.sub(" ", stripped)))
    return len(_EN_NEG.findall(_EN_NOT_NEG.sub(" ", text)))


def is_request(text: str) -> bool:
    """Whether a text asks for something (a question, an imperative, a polite request), rather than states."""
    text = nfkc(text).strip()
    if not text:
        return False
    if HAN.search(text):
        return bool(_ZH_ASK.search(text) or _ZH_VERB_START.search(text))
    if _EN_ASK.search(text):
        return True
    return any(m.group(1).lower() in _EN_VERBS or (m.group(1).lower() in _EN_WH and m.start(1) == 0)
               for m in _EN_CLAUSE_START.finditer(text))


ZH_FUNCTION_CHARS = frozenset("的了是在和与及或也都就而请把被将对从向给为以于之其这那个些一下吗呢吧啊么如何怎哪着过得地"
                              "所并且等能可要会用让使该每各下上中里内出来去到对于关于有中你我他她它们您")
_EN_STOP = _FUNCTION_EN | frozenset("""
write give make create provide explain describe list please using use based following given below above text
""".split())
_WORD = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")


def content_units(text: str) -> set[str]:
    """Content-bearing units: CJK characters less function characters, and Latin word stems less stop words.

    Unigrams see a Chinese paraphrase (写一首关于春天的诗 / 创作一首以春天为主题的诗) that character
    3-grams miss entirely.
    """
    text = nfkc(text).casefold()
    units = {ch for ch in text if CJK.match(ch) and ch not in ZH_FUNCTION_CHARS}
    for w in _WORD.findall(text):
        if w in _EN_STOP or len(w) < 2 and not w.isdigit():
            continue
        units.add(stem(w))
    return units


def stem(word: str) -> str:
    """A crude English stem: enough to match 'colors'/'color', 'summarize'/'summary' for overlap counts."""
    w = word.lower()
    for suffix in ("ization", "isation", "ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "s",
                   "ly", "ize", "ise", "y"):
        if len(w) - len(suffix) >= 4 and w.endswith(suffix):
            return w[: len(w) - len(suffix)]
    return w[:8]


def must_keep(text: str) -> list[str]:
    """What a rewrite of `text` must keep, for the prompt: its key terms, digit numbers and literals.

    The gates check the same list (key_term_lost, number_lost, literal_lost), so telling the model
    up front costs nothing and saves variants the gates would drop.
    """
    from qaug.quality import filters

    out = [t.text for t in key_terms(text)]
    out += list(filters.numbers(text))
    for rx in (filters.PLACEHOLDER, filters.URL, filters.EMAIL, filters.CODE):
        out += rx.findall(text)
    return list(dict.fromkeys(x for x in out if x.strip()))
