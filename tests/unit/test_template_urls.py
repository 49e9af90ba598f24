"""Page templates link by route name (`url_for`), never by a written path, so no hard-coded URL creeps back in.

A written app path is any quoted string that starts with `/` and a letter: an `href`, `action`, `src`,
`formaction`, `hx-get`/`hx-post`, `sse-connect` or hidden `value` attribute, or a Jinja literal such as
`'/campaigns/' ~ slug` or `request.url.path.startswith('/admin')`.  Code shown to readers (`<pre>` blocks in
the integrators' guide) is text, not a link.  Emails are rendered outside requests and get absolute links in
their context, so they are not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
WRITTEN_PATH = re.compile(r"""(["'])(/[A-Za-z_][^"'{}\s]*)""")
PRE = re.compile(r"<pre\b.*?</pre>", re.DOTALL)
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def page_templates() -> list[Path]:
    return sorted(path for path in TEMPLATES.rglob("*.html") if "emails" not in path.relative_to(TEMPLATES).parts)


def written_paths(source: str) -> list[tuple[int, str]]:
    text = JINJA_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), source)
    text = PRE.sub(lambda m: "\n" * m.group().count("\n"), text)
    return [(text.count("\n", 0, match.start()) + 1, match.group(2)) for match in WRITTEN_PATH.finditer(text)]


def test_the_check_finds_written_paths() -> None:
    samples = [
        '<a href="/campaigns">',
        "<form action='/login'>",
        '<div hx-get="/campaigns/{{ slug }}/ideas">',
        '<input type="hidden" name="next" value="/campaigns/{{ slug }}/coins">',
        "{% set url = '/campaigns/' ~ campaign.slug %}",
        "{% if request.url.path.startswith('/admin') %}",
        '<img src="/static/img/coin.svg">',
    ]
    for sample in samples:
        assert written_paths(sample), sample
    allowed = [
        "<a href=\"{{ url_for('campaigns') }}\">",
        "<a href=\"{{ url_for('ideas', slug=campaign.slug) }}?{{ query }}\">",
        '<a href="#main">',
        '<a href="https://example.org/page">',
        "{% if next != '/' %}",
        '<pre><code>client.post("/api/permalinks")</code></pre>',
        "{# reloading '/campaigns/x' #}",
    ]
    for sample in allowed:
        assert not written_paths(sample), sample


@pytest.mark.parametrize("template", page_templates(), ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_page_templates_link_by_route_name(template: Path) -> None:
    found = written_paths(template.read_text(encoding="utf-8"))
    assert not found, "written app paths (use url_for('route.name', ...)): " + ", ".join(
        f"line {line}: {path}" for line, path in found
    )
