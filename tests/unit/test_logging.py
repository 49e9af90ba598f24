from __future__ import annotations

import json
import logging

from coins.lib.logging import JsonFormatter, RequestIdFilter
from coins.lib.requestid import bind_request_id


def test_json_lines_carry_the_request_id_and_extras() -> None:
    bind_request_id("req-12345678")
    record = logging.LogRecord("coins.test", logging.WARNING, __file__, 1, "locked %s", ("ada",), None)
    record.user_id = "u-1"
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "locked ada"
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-12345678"
    assert line["user_id"] == "u-1"
    assert line["logger"] == "coins.test"
