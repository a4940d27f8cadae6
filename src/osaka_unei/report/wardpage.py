"""A ward's page (its policies year by year, each with its tree of nodes), written in Python
rather than a template: the ward pages together hold every node of the dataset (~3,000 rows
at 1,000 stored versions), which a template draws several times slower. The rest of the
page (head, header, footer) is templates/shell.html, rendered once, as for the item pages.

In: the context of site._ward_context. Out: the HTML of the page's <main> content, escaped
as the templates escape (markupsafe: a Markup value as it is, anything else escaped).
"""

from __future__ import annotations

import functools
from typing import Any

from markupsafe import escape

from osaka_unei.report.figures import fmt_count, fmt_yen

NOTE = (
    '<p class="note">斜体の金額(<span class="summed" title="下位項目の合計">計</span>)は配下の'
    '項目の合計で、ページには記載がありません。「—」は記載なし。<span class="en">Italic amounts '
    'are sums of the items beneath (not printed on the page); "—": none printed.</span></p>'
)
HEAD = (
    '<thead><tr><th scope="col">年度</th><th scope="col">名称</th><th scope="col">経営課題</th>'
    '<th scope="col">戦略</th><th scope="col">具体的取組</th><th scope="col">予算額合計(千円)'
    "</th></tr></thead>"
)
TREE_HEAD = (
    '<thead><tr><th scope="col">番号</th><th scope="col">経営課題 › 戦略 › 具体的取組</th>'
    '<th scope="col">金額(千円)</th></tr></thead>'
)


def _e(value: Any) -> str:
    # a plain str escaped once per process (a Markup, equal to its str, is never cached)
    if type(value) is str:
        return _escape_str(value)
    return str(escape(value))


@functools.lru_cache(maxsize=1 << 16)
def _escape_str(value: str) -> str:
    return str(escape(value))


def _tree_row(n: dict[str, Any]) -> str:
    title = _e(n["title"])
    if n["href"]:
        title = f'<a href="../{_e(n["href"])}">{title}</a>'
    return (
        f'<tr class="{_e(n["level"])}" id="n-{_e(n["policy_id"])}-{_e(n["node_key"])}">'
        f'<td class="code">{_e(n["label"])}</td><td class="text">{title}</td>{n["cell"]}</tr>\n'
    )


def ward_main(c: dict[str, Any]) -> str:
    ward = _e(c["ward"])
    out = [
        f'<p class="crumbs"><a href="../index.html">トップ / index</a> › {ward}</p>\n'
        f'<h1>{ward} <span class="en">{_e(c["slug"])}</span></h1>\n'
        "\n"
        '<section id="years">\n'
        '<h2>収録年度 <span class="en">Years in the dataset</span></h2>\n'
        '<div class="scroll">\n'
        '<table class="numbers">\n'
        f"{HEAD}\n"
        "<tbody>\n"
    ]
    for item in c["policies"]:
        p = item["policy"]
        year = _e(p.fiscal_year)
        out.append(
            f'<tr><th scope="row"><a href="#y{year}">{_e(p.label)}</a> <a class="muted" '
            f'href="../years/{year}.html">({year})</a></th>\n'
            f'<td class="text">{_e(p.title)}</td><td class="num">{_e(fmt_count(p.n_issues))}</td>'
            f'<td class="num">{_e(fmt_count(p.n_strategies))}</td>'
            f'<td class="num">{_e(fmt_count(p.n_initiatives))}</td>{_e(item["total"])}</tr>\n'
        )
    out.append("</tbody>\n</table>\n</div>\n")
    if c["chart"]:
        out.append(_e(c["chart"]))
    out.append("</section>\n\n")
    for item in c["policies"]:
        p = item["policy"]
        year = _e(p.fiscal_year)
        source = f'<a class="source" href="{_e(p.url)}">{_e(p.url)}</a>' if p.url else "—"
        published = f" · 掲載日 / published {_e(p.published)}" if p.published else ""
        goal = f"  <dt>目標 / goal</dt><dd>{_e(p.goal)}</dd>\n" if p.goal else ""
        out.append(
            f'<section class="policy" id="y{year}">\n'
            f'<h2>{_e(p.title)} <span class="en">fiscal year {year}'
            f"{' (draft / 案)' if p.draft else ''}</span></h2>\n"
            '<dl class="meta">\n'
            f"  <dt>ページ / page</dt><dd>{source}</dd>\n"
            f'  <dt>版 / version</dt><dd><code title="sha256 {_e(p.sha256)}">sha256 '
            f"{_e(p.sha256[:12])}</code> · 取得 / fetched {_e(p.fetched_at)}{published} · "
            f"{_e(p.source_kind)}</dd>\n"
            f"{goal}"
            f'  <dt>予算額合計 / total</dt><dd class="total">{_e(fmt_yen(p.total))}</dd>\n'
            "</dl>\n"
            '<div class="scroll">\n'
            '<table class="tree">\n'
            f"{TREE_HEAD}\n"
            "<tbody>\n"
        )
        out += [_tree_row(n) for n in item["tree"]]
        out.append(f"</tbody>\n</table>\n</div>\n{NOTE}\n</section>\n")
    return "".join(out).removesuffix("\n")  # the shell's line break ends it
