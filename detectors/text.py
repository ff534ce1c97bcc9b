"""Turning a ticket's or pull request's text into words a matcher can compare.

Jira wiki markup, Markdown, code blocks, stack traces and URLs are each cut down to what
still says something (the first line of a trace, the host and path words of a link, the first
identifiers of a code block), so they neither dominate two texts' similarity nor vanish from
it. Identifiers are split (`JApplicationWebClient` -> `j application web client`,
`snake_case` -> `snake case`) because teams spell the same thing both ways.
"""

from __future__ import annotations

import hashlib
import re

_ENGLISH_STOP_WORDS = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been
    before beforehand behind being below beside besides between beyond bill both bottom but by
    call can cannot cant co con could couldnt cry de describe detail do done down due during
    each eg eight either eleven else elsewhere empty enough etc even ever every everyone
    everything everywhere except few fifteen fifty fill find fire first five for former
    formerly forty found four from front full further get give go had has hasnt have he hence
    her here hereafter hereby herein hereupon hers herself him himself his how however hundred
    i ie if in inc indeed interest into is it its itself keep last latter latterly least less
    ltd made many may me meanwhile might mill mine more moreover most mostly move much must my
    myself name namely neither never nevertheless next nine no nobody none noone nor not
    nothing now nowhere of off often on once one only onto or other others otherwise our ours
    ourselves out over own part per perhaps please put rather re same see seem seemed seeming
    seems serious several she should show side since sincere six sixty so some somehow someone
    something sometime sometimes somewhere still such system take ten than that the their them
    themselves then thence there thereafter thereby therefore therein thereupon these they
    thick thin third this those though three through throughout thru thus to together too top
    toward towards twelve twenty two un under until up upon us very via was we well were what
    whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
    whether which while whither who whoever whole whom whose why will with within without
    would yet you your yours yourself yourselves
    """.split()  # noqa: SIM905 - a word list reads better as text
)
"""scikit-learn's `ENGLISH_STOP_WORDS` (from the Glasgow Information Retrieval Group's list),
copied so that the matcher needs no scikit-learn import at start-up."""

STOP_WORDS: frozenset[str] = _ENGLISH_STOP_WORDS | frozenset(
    # Generic tracker words: they say that an item is an item, not what it is about.
    {"fix", "fixes", "fixed", "bug", "issue", "issues", "add", "adds", "added", "pr", "ticket"}
)
"""Words never named as shared evidence (a generic English list, plus tracker verbs)."""

CODE_BLOCK_TOKENS = 12
"""Identifiers kept from a code block: enough to match on, too few to dominate."""

_CODE_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_JIRA_CODE = re.compile(r"\{(code|noformat)(?::[^}]*)?\}(.*?)(?:\{\1\}|\Z)", re.S | re.I)
_TRACE_FRAME = re.compile(
    r"^\s*(?:at\s+[\w$.<>]+\(.*\)|File \".*\", line \d+.*"
    r"|\.\.\. \d+ more|#\d+\s+0x[0-9a-f]+.*)\s*$",
    re.M,
)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s\]|)>\"']+", re.I)
_JIRA_LINK = re.compile(r"\[([^\]|]*)\|[^\]]*\]")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_JIRA_IMAGE = re.compile(r"!([^!\s|]+)(?:\|[^!]*)?!")
_JIRA_TAGS = re.compile(r"\{(?:color|panel|quote|noformat|code)(?::[^}]*)?\}", re.I)
_JIRA_HEADING = re.compile(r"^\s*(?:h[1-6]\.|bq\.)\s*", re.M)
_MENTION = re.compile(r"\[~[^\]]*\]")
# Between a lower-case letter or digit and a capital, and between an acronym and the
# capitalised word after it (HTTPServer -> HTTP Server).
_IDENTIFIER_BOUNDARY = re.compile(r"[a-z0-9](?=[A-Z])|[A-Z](?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")
# The words of an ASCII text in one pass, cut where `_IDENTIFIER_BOUNDARY` would put a space
# (an upper-case run before a capitalised word is a word of its own): the same words as
# splitting, lower-casing and `_WORD`, without building the split text.
_ASCII_WORD = re.compile(r"[a-z0-9]+|[A-Z](?:[a-z0-9]+|[A-Z]*(?=[A-Z][a-z])|[A-Z]*[a-z0-9]*)")
_WWW = re.compile(r"www\.", re.I)
_HEADING_START = re.compile(r"\s*(?:h[1-6]|bq)\.", re.I)


def _shorten_code(match: re.Match[str]) -> str:
    code = match.group(2) if match.lastindex and match.lastindex >= 2 else match.group(0)
    code = code.strip("`")
    identifiers = re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", code)
    return " " + " ".join(identifiers[:CODE_BLOCK_TOKENS]) + " "


def _shorten_url(match: re.Match[str]) -> str:
    url = re.sub(r"^(?:https?://)?(?:www\.)?", "", match.group(0), flags=re.I)
    host, _, path = url.partition("/")
    # The host's name (not its TLD) and the path's words say what is linked; ids and
    # query strings do not.
    host_words = host.split(".")[:-1] or [host]
    path_words = [w for w in re.split(r"[/_\-.?=&#]+", path) if w and not w.isdigit()][:4]
    return " " + " ".join(host_words + path_words) + " "


def strip_markup(text: str) -> str:
    """Text without Jira/Markdown markup, with code, traces and URLs cut to their gist."""
    if not text:
        return ""
    if not _has_markup(text):
        # Most titles and many bodies carry no markup: skip the dozen substitutions.
        return text
    text = _CODE_FENCE.sub(_shorten_code, text)
    text = _JIRA_CODE.sub(_shorten_code, text)
    text = _TRACE_FRAME.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _JIRA_LINK.sub(r" \1 ", text)
    text = _MD_LINK.sub(r" \1 ", text)
    text = _JIRA_IMAGE.sub(" ", text)
    text = _URL.sub(_shorten_url, text)
    text = _JIRA_TAGS.sub(" ", text)
    return _JIRA_HEADING.sub(" ", text)


def _has_markup(text: str) -> bool:
    """Whether `text` may hold markup that `strip_markup` rewrites."""
    # Substring tests run in C without a regex's per-position alternation: 4x faster on
    # the typical body, and every item's text passes here.
    return (
        "{" in text
        or "[" in text
        or "!" in text
        or "`" in text
        or "\n" in text
        or "://" in text
        or _WWW.search(text) is not None
        or _HEADING_START.match(text) is not None
    )


def split_identifiers(text: str) -> str:
    """`JApplicationWebClient` -> `J Application Web Client`; `a_b` -> `a b`."""
    return _IDENTIFIER_BOUNDARY.sub(_space_after, text)


def _space_after(match: re.Match[str]) -> str:
    return match.group() + " "


def words(text: str) -> list[str]:
    """Lower-case words of `text` after markup is stripped and identifiers split."""
    plain = strip_markup(text)
    if plain.isascii():
        # Words hold no spaces, so joining, lower-casing and splitting them is one C pass
        # each. Not for other text: lower-casing some non-ASCII letters gives ASCII ones.
        return " ".join(_ASCII_WORD.findall(plain)).lower().split()
    return _WORD.findall(split_identifiers(plain).lower())


def plain_title(title: str) -> str:
    """A title as lower-case words separated by single spaces."""
    return " ".join(words(title))


def stem(word: str) -> str:
    """`word` without a plural or verb ending ("tests" -> "test", "limiting" -> "limit")."""
    # Plural and verb endings only: enough to keep "tests"/"test" one word in a fingerprint.
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def title_fingerprint(title: str) -> str:
    """A short hash of a title's content words: stable under case, punctuation, word order,
    plurals and added stop words, different when a content word is added, dropped or changed.
    """
    content = sorted({stem(w) for w in words(title) if w not in STOP_WORDS and len(w) > 1})
    return hashlib.sha256(" ".join(content).encode()).hexdigest()[:12]
