"""An item's page (one lineage across years), written in Python rather than a template: a
report has one per lineage (~900 at 1,000 stored versions), so this is the page drawn most;
the rest of the page (head, header, footer) is templates/shell.html, rendered once.

In: the context of site._item_context. Out: the HTML of the page's <main> content.
"""

from __future__ import annotations

import functools
import html
from typing import Any

# Each distinct text escaped once per process: a parent's title is on the page of every
# item beneath it, an item's title on each of its years' rows (only plain str come here).
escape = functools.lru_cache(maxsize=1 << 16)(html.escape)

SUMMED_NOTE = (
    '<p class="note">斜体の金額(<span class="summed" title="下位項目の合計">計</span>)は配下の'
    '項目の合計で、ページには記載がありません。「—」は記載なし。<span class="en">Italic amounts '
    'are sums of the items beneath (not printed on the page); "—": none printed.</span></p>'
)


def themes_html(themes: list[tuple[str, str]]) -> str:
    if not themes:
        return "—"
    return "、".join(
        f'<span class="theme" title="{escape(en)}">{escape(ja)}</span>' for ja, en in themes
    )


def goals_html(goals: list[int]) -> str:
    return "、".join(f"目標{g}" for g in goals) if goals else "—"


def parents_html(parents: list[dict[str, Any]]) -> str:
    """A node's parents, in its row of the item's table ("" if it has none)."""
    return " › ".join(
        f'<span class="parent">{escape(q["label"])} {escape(q["title"] or "")}</span>'
        for q in parents
    )


def item_main(c: dict[str, Any]) -> str:
    slug, ward, level = escape(c["slug"]), escape(c["ward"]), escape(c["level_ja"])
    out = [
        f'<p class="crumbs"><a href="../index.html">トップ / index</a> › '
        f'<a href="../wards/{slug}.html">{ward}</a> › {level}</p>',
        f'<h1>{escape(c["title"])} <span class="en">{ward}・{level}</span></h1>',
        '<dl class="meta">',
        f'  <dt>区 / ward</dt><dd><a href="../wards/{slug}.html">{ward}</a></dd>',
        f"  <dt>階層 / level</dt><dd>{level}</dd>",
        "  <dt>年度 / years</dt><dd>"
        + "、".join(f'<a href="#y{y["year"]}">{y["year"]}</a>' for y in c["years"])
        + "</dd>",
    ]
    if len(c["titles"]) > 1:
        out.append(
            "  <dt>名称の変遷 / titles</dt><dd>"
            + " → ".join(escape(t) for t in c["titles"])
            + "</dd>"
        )
    out += [
        f"  <dt>テーマ / themes</dt><dd>{themes_html(c['themes'])}</dd>",
        f"  <dt>SDGs</dt><dd>{goals_html(c['sdgs'])}</dd>",
        f"  <dt>ID</dt><dd><code>{escape(c['lineage_id'])}</code></dd>",
        "</dl>",
        "",
        '<section id="amounts">',
        '<h2>年度ごとの名称と金額 <span class="en">Title and amount per year</span></h2>',
        '<div class="scroll">',
        '<table class="numbers item">',
        '<thead><tr><th scope="col">年度</th><th scope="col">番号</th><th scope="col">名称</th>'
        '<th scope="col">金額(千円)</th><th scope="col">経営課題・戦略</th>'
        '<th scope="col">市のページ</th></tr></thead>',
        "<tbody>",
    ]
    for y in c["years"]:
        n, p = y["node"], y["policy"]
        renamed = (
            ' <span class="renamed" title="前年度から名称が変わりました / renamed">名称変更</span>'
            if y["renamed"]
            else ""
        )
        parents = y["parents_html"]
        source = (
            f'<a class="source" href="{escape(p.url)}">{escape(y["label"])}</a>' if p.url else "—"
        )
        out.append(
            f'<tr id="y{y["year"]}"><th scope="row"><a href="../years/{y["year"]}.html">'
            f'{y["year"]}</a></th><td class="code">{escape(n["label"])}</td>'
            f'<td class="text">{escape(n["title"] or "")}{renamed}</td>{n["cell"]}'
            f'<td class="text">{parents or "—"}</td><td>{source}</td></tr>'
        )
    out += ["</tbody>", "</table>", "</div>", SUMMED_NOTE]
    if c["chart"]:
        out.append(str(c["chart"]))
    out += [
        "</section>",
        "",
        '<section id="details">',
        '<h2>年度ごとの詳細 <span class="en">Each year</span></h2>',
    ]
    for y in c["years"]:
        n = y["node"]
        out.append(
            f'<h3>{escape(y["label"])}({y["year"]}) <a class="muted" '
            f'href="../wards/{slug}.html#n-{escape(n["policy_id"])}-{escape(n["node_key"])}">'
            "区のページで見る / in the ward's tree</a></h3>"
        )
        out.append('<dl class="meta">')
        out.append(f"  <dt>金額 / amount</dt><dd>{y['amount']}</dd>")
        if n.get("description"):
            out.append(f"  <dt>説明 / description</dt><dd>{escape(n['description'])}</dd>")
        out.append(f"  <dt>テーマ / themes</dt><dd>{y['themes_html']}</dd>")
        out.append(f"  <dt>SDGs</dt><dd>{y['sdgs_html']}</dd>")
        if y["changes"]:
            lines = []
            for ch in y["changes"]:
                values = (
                    f' <span class="old">{escape(ch["old"] or "—")}</span> → '
                    f'<span class="new">{escape(ch["new"] or "—")}</span>'
                    if ch["old"] or ch["new"]
                    else ""
                )
                lines.append(
                    f"<li>{escape(ch['when'])} {escape(ch['comparison'])}: "
                    f"{escape(ch['change'])}{values}</li>"
                )
            changes = '<ul class="changes">' + "".join(lines) + "</ul>"
        else:
            changes = "なし / none"
        out.append(f"  <dt>版の間の変更 / changes</dt><dd>{changes}</dd>")
        out.append("</dl>")
    out.append("</section>")
    return "\n".join(out)
