"""Unexpected errors become a 500 Status, and the log never carries the exception's message
(it may quote a request body: Secret data, tokens)."""
import logging

import orjson

from apiserver.endpoints.exceptions import as_api_error, status_response


def test_unexpected_error_is_a_500_status_and_the_secret_stays_out_of_the_log(caplog):
    canary = "s3cr3t-canary-token"
    try:
        raise KeyError(canary)
    except KeyError as exc:
        with caplog.at_level(logging.DEBUG, logger="apiserver.errors"):
            err = as_api_error(exc)
    body = orjson.loads(status_response(err).content)
    assert body["code"] == 500 and body["reason"] == "InternalError"
    assert canary not in body["message"]
    assert caplog.records and "KeyError" in caplog.text
    assert canary not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)
