"""Log levels, the bounded log buffer, Prometheus parsing and crash sentences."""

import asyncio

from app.services.failures import diagnose
from app.services.logs import BatchedWriter, LineParser, LogBuffer, LogLine, level_of
from app.services.metrics import ServerCounters, parse_prometheus
from backends.sdk.catalog import get_manifest


def test_level_is_read_from_each_common_line_shape():
    assert level_of("2026-11-28 13:00:00 INFO GET /health 200 0.4 ms") == "INFO"
    assert level_of("WARNING:  Invalid HTTP request received.") == "WARNING"
    assert level_of("2026-11-28 13:00:00 WARN disk almost full") == "WARNING"
    assert level_of("Traceback (most recent call last):") == "ERROR"
    assert level_of("ModuleNotFoundError: No module named 'sklearn'") == "ERROR"
    assert level_of('  File "model.py", line 3, in setup', previous="ERROR") == "ERROR"
    assert level_of("plain print output") == "INFO"


def test_a_line_mentioning_a_level_late_is_not_misread():
    text = "2026-11-28 13:00:00 INFO " + "x" * 80 + " ERROR in a user's sentence"
    assert level_of(text) == "INFO"


def test_buffer_keeps_only_the_newest_lines_up_to_its_limit():
    buffer = LogBuffer(limit=3)
    parser = LineParser("stdout")
    buffer.append(parser.parse(f"line {i}\n") for i in range(5))
    assert [line.text for line in buffer.lines()] == ["line 2", "line 3", "line 4"]
    assert [line.text for line in buffer.tail(2)] == ["line 3", "line 4"]


def test_lines_arriving_together_reach_subscribers_as_one_batch():
    buffer = LogBuffer()
    batches: list[list[LogLine]] = []
    buffer.appended.connect(batches.append)

    async def burst() -> None:
        writer = BatchedWriter(buffer, interval=0.02)
        parser = LineParser("stderr")
        for i in range(100):
            writer.write(parser.parse(f"INFO {i}"))
        await asyncio.sleep(0.1)

    asyncio.run(burst())
    assert [len(batch) for batch in batches] == [100]


METRICS = """\
# HELP ml_launcher_requests_total HTTP requests answered.
# TYPE ml_launcher_requests_total counter
ml_launcher_requests_total{route="/predict",method="POST",status="200"} 40
ml_launcher_requests_total{route="/predict",method="POST",status="500"} 2
ml_launcher_requests_total{route="/health",method="GET",status="200"} 58
ml_launcher_requests_in_flight 3
ml_launcher_predictions_total 120
ml_launcher_prediction_errors_total 1
ml_launcher_inference_queue_depth 4
ml_launcher_request_duration_seconds_bucket{route="/a \\"b\\"",le="+Inf"} 7
garbage line without a value
"""


def test_prometheus_text_gives_the_numbers_the_panel_shows():
    samples = parse_prometheus(METRICS)
    assert samples["ml_launcher_request_duration_seconds_bucket"][0][0]["route"] == '/a "b"'
    counters = ServerCounters.from_samples(samples, at=10.0)
    assert counters.requests == 100
    assert counters.errors == 3  # two 500 answers + one failed prediction
    assert (counters.predictions, counters.in_flight, counters.queue_depth) == (120, 3, 4)


def test_request_rate_comes_from_two_readings_and_survives_a_restart():
    earlier = ServerCounters(
        at=10.0, requests=100, errors=0, predictions=0, in_flight=0, queue_depth=0
    )
    later = ServerCounters(
        at=12.0, requests=130, errors=0, predictions=0, in_flight=0, queue_depth=0
    )
    restarted = ServerCounters(
        at=13.0, requests=2, errors=0, predictions=0, in_flight=0, queue_depth=0
    )
    assert later.rate_since(earlier) == 15.0
    assert restarted.rate_since(later) == 0.0


def _lines(*texts: str) -> list[LogLine]:
    parser = LineParser("stderr")
    return [parser.parse(text) for text in texts]


def test_a_missing_library_names_the_extra_to_install():
    manifest = get_manifest("sklearn_text_classifier")
    tail = _lines(
        "Traceback (most recent call last):",
        '  File "backends/sklearn_text_classifier/model.py", line 9, in <module>',
        "ModuleNotFoundError: No module named 'sklearn.linear_model'",
    )
    diagnosis = diagnose(1, tail, manifest, port=9090)
    assert diagnosis.sentence == (
        "The model needs the 'sklearn' extra: pip install -e '.[sklearn]' "
        "(missing module 'sklearn')."
    )
    assert diagnosis.permanent


def test_a_bind_error_says_the_port_is_taken():
    manifest = get_manifest("interactive_substring_matching")
    tail = _lines(
        "2026-11-28 13:00:00 ERROR [Errno 98] error while attempting to bind on address "
        "('127.0.0.1', 9090): address already in use"
    )
    assert diagnose(1, tail, manifest, port=9090).sentence.startswith(
        "Port 9090 is already in use by another program"
    )


def test_an_unexplained_crash_gives_the_signal_and_the_last_error():
    manifest = get_manifest("interactive_substring_matching")
    tail = _lines("2026-11-28 13:00:00 ERROR predict failed: index out of range", "bye")
    assert diagnose(-9, tail, manifest, port=1).sentence == (
        "The server was killed by SIGKILL (out of memory, or another program killed it): "
        "predict failed: index out of range."
    )
    assert diagnose(3, [], manifest, port=1).sentence == "The server exited with code 3."
