/* osaka-unei report: search every item's title and description, offline (file:// too).
   The index (search-index.js, written with the report) is loaded as a script the first time
   the box is used. Matching is that of `osaka-unei search`: NFKC, ASCII letters lower case,
   words split at spaces, each word a substring of the title or of the description. */
(function () {
  "use strict";
  var LEVEL_JA = { issue: "経営課題", strategy: "戦略", initiative: "具体的取組" };
  var SHOWN = 500; // results listed at most (the count says how many matched)
  var root = document.body.getAttribute("data-root") || "";
  var box = document.getElementById("search-q");
  var panel = document.getElementById("search-results");
  if (!box || !panel) return;
  var entries = null;
  var loading = false;
  var pending = null; // what to do once the index has loaded (the latest request)

  function fold(text) {
    return text.normalize("NFKC").replace(/[A-Z]+/g, function (s) { return s.toLowerCase(); });
  }
  function terms(query) {
    return fold(query).split(/\s+/).filter(function (t) { return t.length > 0; });
  }
  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function spans(haystack, words) {
    var found = [];
    words.forEach(function (w) {
      var at = haystack.indexOf(w);
      while (at !== -1) { found.push([at, at + w.length]); at = haystack.indexOf(w, at + 1); }
    });
    found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var merged = [];
    found.forEach(function (s) {
      var last = merged[merged.length - 1];
      if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]); else merged.push(s.slice());
    });
    return merged;
  }
  function marked(text, words) {
    var folded = fold(text);
    var shown = folded.length === text.length ? text : folded;
    var out = "", last = 0;
    spans(folded, words).forEach(function (s) {
      out += escapeHtml(shown.slice(last, s[0])) + "<mark>" + escapeHtml(shown.slice(s[0], s[1])) + "</mark>";
      last = s[1];
    });
    return out + escapeHtml(shown.slice(last));
  }
  function excerpt(text, words) {
    var folded = fold(text);
    var s = spans(folded, words)[0];
    if (!s) return "";
    var start = Math.max(0, s[0] - 20), end = Math.min(folded.length, s[1] + 20);
    var shown = folded.length === text.length ? text : folded;
    return (start ? "…" : "") + marked(shown.slice(start, end), words) + (end < folded.length ? "…" : "");
  }
  function prepare() {
    var data = window.OSAKA_UNEI_SEARCH;
    entries = data.rows.map(function (row) {
      return { row: row, title: fold(row[4]), description: fold(row[5]), level: data.levels[row[2]] };
    });
  }
  function load(then) {
    if (entries) { then(); return; }
    if (window.OSAKA_UNEI_SEARCH) { prepare(); then(); return; }
    pending = then;
    if (loading) return;
    loading = true;
    var script = document.createElement("script");
    script.src = root + "search-index.js";
    script.onload = function () { prepare(); if (pending) pending(); };
    script.onerror = function () { panel.hidden = false; panel.textContent = "検索索引を読み込めませんでした / could not load the search index"; };
    document.head.appendChild(script);
  }
  function amount(row) {
    if (row[6] === "") return "—";
    var text = row[6].toLocaleString("en-US") + " 千円";
    if (row[7] === 0) return '<span class="summed" title="下位項目の合計">' + text + "(計)</span>";
    return text;
  }
  function find(query) {
    var words = terms(query);
    if (!words.length) return { words: words, hits: [] };
    var inTitle = [], inText = [];
    entries.forEach(function (e) {
      var all = words.every(function (w) { return e.title.indexOf(w) !== -1 || e.description.indexOf(w) !== -1; });
      if (!all) return;
      (words.some(function (w) { return e.title.indexOf(w) !== -1; }) ? inTitle : inText).push(e);
    });
    return { words: words, hits: inTitle.concat(inText) };
  }
  function show() {
    var query = box.value;
    var result = find(query);
    if (!result.words.length) { panel.hidden = true; panel.innerHTML = ""; return; }
    var hits = result.hits;
    var html = '<p class="count" data-count="' + hits.length + '">「' + escapeHtml(query.trim()) + "」 " +
      hits.length + " 件" + (hits.length > SHOWN ? "(先頭 " + SHOWN + " 件を表示)" : "") +
      ' <span class="en">' + hits.length + " hits</span></p><ol>";
    hits.slice(0, SHOWN).forEach(function (e) {
      var r = e.row;
      var title = e.title.length && result.words.some(function (w) { return e.title.indexOf(w) !== -1; })
        ? marked(r[4], result.words)
        : escapeHtml(r[4]) + ' <span class="excerpt">' + excerpt(r[5], result.words) + "</span>";
      html += '<li data-node="' + escapeHtml(r[9]) + '"><a href="' + escapeHtml(root + r[8]) + '">' + title + "</a>" +
        '<span class="meta">' + escapeHtml(r[0]) + " · " + r[1] + "年度 · " + LEVEL_JA[e.level] +
        (r[3] ? " " + escapeHtml(r[3]) : "") + " · " + amount(r) + "</span></li>";
    });
    panel.innerHTML = html + "</ol>";
    panel.hidden = false;
  }
  box.addEventListener("focus", function () { load(function () {}); });
  box.addEventListener("input", function () { load(show); });
  var form = box.form;
  if (form) form.addEventListener("submit", function (event) { event.preventDefault(); load(show); });
})();
