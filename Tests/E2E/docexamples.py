"""The examples of a Markdown document, run as its reader would, and compared with what it says.

test_api_docs.py applies this to docs/API.md; the conventions are described there and at the top
of that document. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

# Objects whose keys are data, not field names: a deployment's step name → milliseconds.
DATA_MAPS = frozenset({"steps"})
# Response headers whose values change from one answer to the next.
VARYING_HEADERS = frozenset({"date", "content-length"})
# A block that runs longer than this is killed.
SCRIPT_TIMEOUT_S = 150


# --- Reading the document ----------------------------------------------------------------------

CHECK_COMMENT = re.compile(r"^<!-- check ([a-z0-9-]+): (.+?) -->$")
FENCE = re.compile(r"^```(\w*)\s*$")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    check: Optional[str] = None  # the text of the check comment right before it
    preceded_by_blank_only: bool = False  # only blank lines since the previous block closed


@dataclass
class Example:
    name: str
    line: int
    statuses: list[int]
    script: Optional[str] = None  # a ```sh block to run
    request: Optional[tuple[str, str, Optional[str]]] = None  # or a request (method, path, body)
    response: Optional[Block] = None  # what the document says the (last) answer is
    source: str = "the document"

    def __str__(self) -> str:
        return f"{self.name} ({self.source} line {self.line})"


def read_blocks(text: str, source: str) -> list[Block]:
    """The fenced blocks of a Markdown text, each with the check comment right before it."""
    blocks: list[Block] = []
    lines = text.split("\n")
    i = 0
    pending_check: Optional[str] = None
    blank_only = False
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            start = i
            body = []
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append(Block(start + 1, fence.group(1), "\n".join(body), pending_check, blank_only))
            pending_check = None
            blank_only = True
        elif CHECK_COMMENT.match(line.strip()):
            pending_check = line.strip()
            blank_only = False
        elif line.strip():
            if pending_check is not None:
                raise AssertionError(f"{source} line {i + 1}: a check comment must come right before its block")
            blank_only = False
        i += 1
    return blocks


def runs_curl(block: Block) -> bool:
    return block.lang == "sh" and re.search(r"(^|[\s|$(])curl\s", block.text) is not None


def read_examples(text: str, source: str) -> list[Example]:
    """The checked examples of the document, in its order; fails on a block with no check comment."""
    blocks = read_blocks(text, source)
    examples: list[Example] = []
    claimed: set[int] = set()
    for index, block in enumerate(blocks):
        if block.check is None:
            continue
        name, spec = CHECK_COMMENT.match(block.check).groups()
        tokens = spec.split(None, 3)
        statuses = []
        while tokens and tokens[0].isdigit():
            statuses.append(int(tokens.pop(0)))
        assert statuses, f"{source} line {block.line}: check {name} gives no status"
        if block.lang == "sh":
            assert not tokens, f"{source} line {block.line}: check {name}: unexpected {' '.join(tokens)!r}"
            example = Example(name, block.line, statuses, script=block.text, source=source)
            after = blocks[index + 1] if index + 1 < len(blocks) else None
            if after is not None and after.check is None and after.preceded_by_blank_only and after.lang in ("json", ""):
                example.response = after
                claimed.add(index + 1)
        else:
            assert block.lang in ("json", "") and len(statuses) == 1 and len(tokens) >= 2 and tokens[0] in METHODS, (
                f"{source} line {block.line}: check {name} before a ```{block.lang or 'text'} block must be "
                f"'STATUS METHOD PATH [body]'"
            )
            body = " ".join(tokens[2:]) or None
            example = Example(name, block.line, statuses, request=(tokens[0], tokens[1], body), response=block,
                              source=source)
        claimed.add(index)
        examples.append(example)

    unclaimed = [b for i, b in enumerate(blocks) if i not in claimed and (runs_curl(b) or b.lang == "json")]
    assert not unclaimed, f"blocks of {source} without a check comment (see the comment at its top): " + ", ".join(
        f"line {b.line} ```{b.lang}" for b in unclaimed)
    names = [e.name for e in examples]
    assert len(names) == len(set(names)), f"check names used twice: {sorted({n for n in names if names.count(n) > 1})}"
    return examples


# --- Running a block as a reader would ----------------------------------------------------------

# `curl` as a function: the real curl, with the answer's headers, body and status also written to
# $CURL_LOG/N.*, and the body still printed. With -i the body file begins with the headers.
CURL_SHIM = r"""
set -euo pipefail
curl() {
    local n
    n=$(( $(cat "$CURL_LOG/count") + 1 ))
    echo "$n" > "$CURL_LOG/count"
    command curl --max-time 100 --dump-header "$CURL_LOG/$n.head" --output "$CURL_LOG/$n.body" \
        --write-out '%{http_code}' "$@" > "$CURL_LOG/$n.status"
    cat "$CURL_LOG/$n.body"
}
"""


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def describe(self) -> str:
        return f"{self.status} {self.headers} {self.body[:600]!r}"


def parse_head(raw: bytes) -> tuple[int, list[tuple[str, str]]]:
    """The last response head in `raw` (curl dumps interim 100 Continue heads too)."""
    heads = [h for h in raw.decode("latin-1").split("\r\n\r\n") if h.startswith("HTTP/")]
    assert heads, f"no response head in {raw[:200]!r}"
    lines = heads[-1].split("\r\n")
    status = int(lines[0].split()[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    return status, headers


def run_script(script: str, env: dict[str, str], log_dir: Path) -> tuple[list[Answer], str]:
    """Runs a ```sh block with bash; returns the answer to each curl call, and the output."""
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "count").write_text("0")
    proc = subprocess.run(
        ["bash", "-c", CURL_SHIM + script],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(log_dir), "LC_ALL": "C",
             "CURL_LOG": str(log_dir), **env},
        capture_output=True, timeout=SCRIPT_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode == 0, f"the block exited with {proc.returncode}:\n{output[-3000:]}"
    answers = []
    for n in range(1, int((log_dir / "count").read_text()) + 1):
        raw_head = (log_dir / f"{n}.head").read_bytes()
        status, headers = parse_head(raw_head)
        assert (log_dir / f"{n}.status").read_text().strip() == str(status)
        body = (log_dir / f"{n}.body").read_bytes()
        if body.startswith(raw_head):  # curl -i
            body = body[len(raw_head):]
        answers.append(Answer(status, headers, body))
    return answers, output


def shell_commands(script: str) -> list[str]:
    """The block's commands, with backslash-continued lines joined."""
    commands, current = [], ""
    for line in script.split("\n"):
        current += line
        if line.endswith("\\"):
            current += "\n"
            continue
        commands.append(current)
        current = ""
    return commands + ([current] if current else [])


# --- Comparing an answer with the document -------------------------------------------------------


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def shape_problems(doc: Any, live: Any, where: str = "$") -> list[str]:
    """How `live` differs from `doc` in keys, their order and kinds of values; [] when it does not."""
    if isinstance(doc, dict):
        if not isinstance(live, dict):
            return [f"{where}: documented an object, the server sent {json.dumps(live)[:100]}"]
        if where.rsplit(".", 1)[-1] in DATA_MAPS:
            return []
        cut = "..." in doc
        doc_keys = [k for k in doc if k != "..."]
        live_keys = list(live)
        seen = live_keys[:len(doc_keys)] if cut else live_keys
        problems = []
        if seen != doc_keys:
            missing = [k for k in doc_keys if k not in live_keys]
            extra = [k for k in live_keys if k not in doc_keys] if not cut else []
            problems.append(f"{where}: keys differ; documented {doc_keys}, the server sent {live_keys}"
                            + (f"; undocumented: {extra}" if extra else "")
                            + (f"; not sent: {missing}" if missing else "")
                            + ("; the order differs" if not extra and not missing else ""))
        for k in doc_keys:
            if k in live:
                problems += shape_problems(doc[k], live[k], f"{where}.{k}")
        return problems
    if isinstance(doc, list):
        if not isinstance(live, list):
            return [f"{where}: documented an array, the server sent {json.dumps(live)[:100]}"]
        if not doc:
            return []
        return [p for i, item in enumerate(live) for p in shape_problems(doc[0], item, f"{where}[{i}]")]
    if doc is not None and live is not None and kind(doc) != kind(live):
        return [f"{where}: documented a {kind(doc)} ({json.dumps(doc)[:60]}), the server sent a {kind(live)} "
                f"({json.dumps(live)[:60]})"]
    return []


def json_problems(doc_text: str, body: bytes, content_type: Optional[str]) -> list[str]:
    doc = json.loads(doc_text)
    if not (content_type or "").startswith("application/json"):
        return [f"documented JSON, the server sent Content-Type {content_type!r}: {body[:300]!r}"]
    live = json.loads(body)
    problems = shape_problems(doc, live)
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict) and isinstance(live, dict):
        for key in ("code", "message"):
            if doc["error"].get(key) != (live.get("error") or {}).get(key):
                problems.append(f"error {key}: documented {doc['error'].get(key)!r}, "
                                f"the server sent {(live.get('error') or {}).get(key)!r}")
    return problems


def http_block_problems(doc_text: str, answer: Answer) -> list[str]:
    """An HTTP/1.1 response as the document shows it: status line, headers, blank line, body."""
    head, _, body = doc_text.partition("\n\n")
    lines = head.split("\n")
    problems = []
    status = int(lines[0].split()[1])
    if status != answer.status:
        problems.append(f"the block shows {lines[0]!r}, the server answered {answer.status}")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        live = answer.header(name.strip())
        if live is None:
            problems.append(f"header {name.strip()} is documented but was not sent")
        elif name.strip().lower() not in VARYING_HEADERS and live != value.strip():
            problems.append(f"header {name.strip()}: documented {value.strip()!r}, the server sent {live!r}")
    content_type = answer.header("Content-Type") or ""
    if content_type.startswith("application/json"):
        problems += json_problems(body, answer.body, content_type)
    elif body.strip() != answer.body.decode(errors="replace").strip():
        problems.append(f"body: documented {body.strip()!r}, the server sent {answer.body[:300]!r}")
    return problems


def response_problems(block: Block, answer: Answer) -> list[str]:
    content_type = answer.header("Content-Type")
    if block.lang == "json":
        return json_problems(block.text, answer.body, content_type)
    if block.text.startswith("HTTP/"):
        return http_block_problems(block.text, answer)
    if not (content_type or "").startswith("text/plain"):
        return [f"documented plain text, the server sent Content-Type {content_type!r}"]
    return []


# --- The document's tables -----------------------------------------------------------------------


def section(text: str, heading: str) -> str:
    """From `heading` to the next heading of its level or above."""
    start = text.index(heading + "\n")
    level = len(heading) - len(heading.lstrip("#"))
    following = re.compile(r"^#{1,%d} " % level, re.MULTILINE).search(text, start + len(heading))
    return text[start:following.start() if following else len(text)]


def subsections(text: str) -> list[tuple[str, str]]:
    """(heading, text) of each ### section of `text`."""
    parts = re.split(r"^(### .*)$", text, flags=re.MULTILINE)
    return list(zip(parts[1::2], parts[2::2]))


def table_fields(markdown: str, first_header: str) -> list[str]:
    """The backticked names in the first column of the tables whose first header is `first_header`."""
    names, inside = [], False
    for line in markdown.split("\n"):
        if line.startswith(f"| {first_header} |"):
            inside = True
            continue
        if inside and line.startswith("|---"):
            continue
        if inside and line.startswith("| `"):
            names.append(line.split("`")[1])
            continue
        inside = False
    return names
