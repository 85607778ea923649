"""Fill the generated blocks of a docs page by running its python blocks.

    PYTHONPATH=. python docs/_tools/render.py docs/query.md          # rewrite
    PYTHONPATH=. python docs/_tools/render.py --check docs/query.md  # verify (tests)

Markers (kept in the page, each followed by the block it generates):

* ``<!-- sql: EXPR -->``   a ```sql block with ``str(EXPR)``;
* ``<!-- executed -->``    a ```sql block with the statements the preceding
                            python block executed (parameters shown after ``--``);
* ``<!-- text: EXPR -->``  a ```text block with ``EXPR`` (``str`` if a string, else ``repr``);
* ``<!-- md: EXPR -->``    markdown returned by ``EXPR`` (between begin/end markers).

Python blocks run in order in one namespace, as a script would run them (no
top-level ``await``: async examples call ``asyncio.run``), so the generated
SQL and output are what the code really produces.
"""

import html
import re
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

TOKEN = re.compile(
    r"(?P<python>^```python[^\n]*\n(?P<code>.*?)^```[ \t]*\n)"
    r"|(?P<marker>^<!-- (?P<kind>sql|text|executed)(?::\s*(?P<expr>.*?))? -->\n)"
    r"(?:```(?:sql|text)\n.*?^```[ \t]*\n)?"
    r"|(?P<md>^<!-- md: (?P<mdexpr>.*?) -->\n).*?^<!-- end -->\n",
    re.MULTILINE | re.DOTALL,
)

executed: list[str] = []


@event.listens_for(Engine, "before_cursor_execute")
def _record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
    text = statement.strip()
    if parameters:
        text += f"\n-- parameters: {parameters!r}"
    executed.append(text)


def run(code: str, namespace: dict[str, Any], name: str) -> None:
    exec(compile(code, name, "exec", dont_inherit=True), namespace)


def where_table(examples: dict[str, Any]) -> str:
    """A markdown table: lookup, example call, the WHERE clause it compiles to."""
    rows = ["| operator | example | SQL (SQLite) |", "|---|---|---|"]
    for op, q in examples.items():
        call = "where(" + ", ".join(q._describe()) + ")"
        where = " ".join(q.sql("sqlite", literal=True).split("WHERE", 1)[1].split())
        sql = html.escape(where, quote=False).replace("|", "&#124;")  # no raw pipes inside a table
        rows.append(f"| `{op}` | `{call}` | <code>{sql}</code> |")
    return "\n".join(rows)


def render(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": "__main__", "where_table": where_table}
    out: list[str] = []
    position = 0
    for match in TOKEN.finditer(text):
        out.append(text[position : match.start()])
        position = match.end()
        if match.group("python"):
            executed.clear()
            line = text.count("\n", 0, match.start("code")) + 1
            run("\n" * (line - 1) + match.group("code"), namespace, str(path))
            out.append(match.group("python"))
            continue
        if match.group("md"):
            markdown = str(eval(match.group("mdexpr"), namespace)).rstrip()
            out.append(match.group("md") + markdown + "\n<!-- end -->\n")
            continue
        kind, expr = match.group("kind"), match.group("expr")
        out.append(match.group("marker"))
        if kind == "executed":
            out.append("```sql\n" + ";\n\n".join(executed) + "\n```\n")
        elif kind == "sql":
            out.append("```sql\n" + str(eval(expr, namespace)).strip() + "\n```\n")
        else:
            value = eval(expr, namespace)
            shown = value if isinstance(value, str) else repr(value)
            out.append("```text\n" + shown.rstrip() + "\n```\n")
    out.append(text[position:])
    return "\n".join(line.rstrip() for line in "".join(out).split("\n"))


#: ``hero.name AS hero_name``: SQLAlchemy 2.0 labels the columns of some
#: statements it runs (e.g. a lazy load) where 2.1 does not; not a difference.
_DEFAULT_LABEL = re.compile(r"\b(\w+)\.(\w+) AS \1_\2\b")


def same_output(rendered: str, stored: str) -> bool:
    """Whether the page is current, up to SQLAlchemy-version labelling."""
    return _DEFAULT_LABEL.sub(r"\1.\2", rendered) == _DEFAULT_LABEL.sub(r"\1.\2", stored)


def main(args: list[str]) -> int:
    check = "--check" in args
    stale = []
    for name in (arg for arg in args if arg != "--check"):
        path = Path(name).resolve()
        rendered = render(path)
        if not same_output(rendered, path.read_text(encoding="utf-8")):
            stale.append(name)
            if not check:
                path.write_text(rendered, encoding="utf-8")
    if check and stale:
        print("out of date (run docs/_tools/render.py on them):", *stale, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
