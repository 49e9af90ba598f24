"""Every event the server raises with `HX-Trigger` has a listener in the page templates or the app's script.

An event nothing listens for is a promise of a refresh that never happens (`coinsChanged` was one); an event
raised by a literal header elsewhere would escape this check, so only `coins.lib.htmx.trigger` raises them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coins.lib.htmx import SERVER_EVENTS, trigger

ROOT = Path(__file__).resolve().parents[2]


def listeners() -> str:
    pages = [path for path in (ROOT / "templates").rglob("*.html") if "emails" not in path.parts]
    scripts = list((ROOT / "static" / "js").glob("*.js"))
    return "\n".join(path.read_text(encoding="utf-8") for path in [*pages, *scripts])


@pytest.mark.parametrize("event", SERVER_EVENTS)
def test_each_server_event_has_a_listener(event: str) -> None:
    source = listeners()
    in_template = re.search(rf'hx-trigger="[^"]*\b{re.escape(event)}\b[^"]*"', source)
    in_script = re.search(rf"""addEventListener\(\s*["']{re.escape(event)}["']""", source)
    assert in_template or in_script, f"nothing listens for {event!r}"


def test_only_the_helper_raises_events() -> None:
    assert trigger(SERVER_EVENTS[0]) == {"HX-Trigger": SERVER_EVENTS[0]}
    with pytest.raises(ValueError, match="no listener"):
        trigger("somethingNobodyHears")
    raised_by_hand = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src" / "coins").rglob("*.py")
        if path.name != "htmx.py" and re.search(r"""["']HX-Trigger["']""", path.read_text(encoding="utf-8"), re.I)
    ]
    assert not raised_by_hand, f"HX-Trigger set by hand (use coins.lib.htmx.trigger): {raised_by_hand}"
