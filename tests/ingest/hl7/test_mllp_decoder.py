"""MllpDecoder and frame(): split frames, several per read, garbage, oversize, charsets."""

from __future__ import annotations

import pytest

from panels.intake.hl7.mllp import (
    END_BLOCK,
    START_BLOCK,
    MllpDecoder,
    MllpDiscard,
    MllpEvent,
    MllpFrame,
    decode_payload,
    frame,
)
from panels.intake.hl7.parse import parse_oru
from panels.intake.hl7.types import ProblemCode
from tests.ingest.hl7.helpers import fixture_bytes, oru


def _frames(events: list[MllpEvent]) -> list[bytes]:
    return [event.payload for event in events if isinstance(event, MllpFrame)]


def _discards(events: list[MllpEvent]) -> list[tuple[str, int]]:
    return [(e.reason, e.byte_count) for e in events if isinstance(e, MllpDiscard)]


def test_frame_wraps_in_start_and_end_blocks() -> None:
    assert frame("MSH|x\r") == b"\x0bMSH|x\r\x1c\x0d"
    assert frame("Zoë", "latin-1") == b"\x0bZo\xeb\x1c\x0d"
    with pytest.raises(ValueError, match="block"):
        frame("a\x1cb")


def test_one_frame_in_one_read() -> None:
    decoder = MllpDecoder()

    assert decoder.feed(frame("MSH|1\r")) == [MllpFrame(b"MSH|1\r")]
    assert decoder.buffered == 0


def test_frame_split_at_every_possible_byte() -> None:
    data = frame(oru())
    for cut in range(1, len(data)):
        decoder = MllpDecoder()
        events = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert events == [MllpFrame(oru().encode())], cut


def test_frame_fed_one_byte_at_a_time() -> None:
    decoder = MllpDecoder()
    data = frame("MSH|a\r") + frame("MSH|b\r")

    events = [event for byte in data for event in decoder.feed(bytes([byte]))]

    assert _frames(events) == [b"MSH|a\r", b"MSH|b\r"]
    assert _discards(events) == []


def test_many_frames_in_one_read() -> None:
    data = b"".join(frame(f"MSH|{n}\r") for n in range(100))

    assert _frames(MllpDecoder().feed(data)) == [f"MSH|{n}\r".encode() for n in range(100)]


def test_garbage_before_a_start_block_is_discarded_and_reported() -> None:
    decoder = MllpDecoder()

    events = decoder.feed(b"GET / HTTP/1.1\r\n" + frame("MSH|1\r") + b"\r\n")

    assert _frames(events) == [b"MSH|1\r"]
    assert _discards(events) == [("garbage", 16), ("garbage", 2)]


def test_a_new_start_block_interrupts_an_unfinished_frame() -> None:
    events = MllpDecoder().feed(START_BLOCK + b"MSH|lost" + frame("MSH|2\r"))

    assert _frames(events) == [b"MSH|2\r"]
    assert _discards(events) == [("interrupted", 8)]


def test_lone_file_separator_is_content_not_an_end() -> None:
    assert _frames(MllpDecoder().feed(b"\x0bab\x1cc\x1c\x0d")) == [b"ab\x1cc"]


def test_finish_reports_a_truncated_frame() -> None:
    decoder = MllpDecoder()
    decoder.feed(START_BLOCK + b"MSH|half")

    assert _discards(decoder.finish()) == [("truncated", 8)]
    assert decoder.finish() == []


def test_oversize_frame_is_refused_with_its_head_and_the_next_frame_survives() -> None:
    decoder = MllpDecoder(max_message_size=100)
    big = "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|BIG1|P|2.5.1\r" + "NTE|1||" + "x" * 500 + "\r"

    events = decoder.feed(frame(big) + frame("MSH|small\r"))

    [refused] = [e for e in events if isinstance(e, MllpDiscard)]
    assert refused.reason == "oversize"
    assert refused.byte_count == len(big)
    assert refused.head.startswith(b"MSH|^~\\&|A|B")
    assert len(refused.head) <= 4096
    assert parse_oru(refused.head.decode()).control_id == "BIG1"
    assert _frames(events) == [b"MSH|small\r"]


def test_oversize_is_refused_as_soon_as_it_exceeds_and_nothing_more_is_kept() -> None:
    decoder = MllpDecoder(max_message_size=1000)
    events = decoder.feed(START_BLOCK + b"y" * 600)
    assert events == []

    events = decoder.feed(b"y" * 600)
    assert _discards(events) == [("oversize", 1200)]
    for _ in range(10):
        assert decoder.feed(b"z" * 1000) == []
        assert decoder.buffered == 0
    assert _frames(decoder.feed(b"\x1c" + b"\x0d" + frame("MSH|next\r"))) == [b"MSH|next\r"]


def test_oversize_skipping_stops_at_a_new_start_block() -> None:
    decoder = MllpDecoder(max_message_size=10)
    decoder.feed(START_BLOCK + b"a" * 50)

    assert _frames(decoder.feed(b"b" * 5 + frame("MSH|ok\r"))) == [b"MSH|ok\r"]


def test_oversize_end_block_split_across_reads() -> None:
    decoder = MllpDecoder(max_message_size=10)
    decoder.feed(START_BLOCK + b"a" * 50 + b"\x1c")

    assert decoder.feed(b"\x0d" + frame("MSH|ok\r")) == [MllpFrame(b"MSH|ok\r")]


def test_decoder_rejects_a_nonsense_maximum() -> None:
    with pytest.raises(ValueError, match="positive"):
        MllpDecoder(max_message_size=0)


def test_end_block_constant() -> None:
    assert END_BLOCK == b"\x1c\r"


# --- character sets ---------------------------------------------------------------------


def test_utf8_by_default() -> None:
    decoded = decode_payload("MSH|^~\\&|A\rPID|1||1||Zoë".encode())

    assert (decoded.encoding, decoded.problem) == ("utf-8", None)
    assert decoded.text.endswith("Zoë")


def test_msh18_latin1_fixture() -> None:
    decoded = decode_payload(fixture_bytes("oru_r01_latin1.hl7"))

    assert (decoded.encoding, decoded.problem) == ("latin-1", None)
    parsed = parse_oru(decoded.text)
    assert parsed.problems == ()
    patient = parsed.orders[0].patient
    assert (patient.family_name, patient.given_name) == ("Müller", "Zoë")


def test_bytes_that_are_not_the_declared_charset_are_rejected() -> None:
    decoded = decode_payload(b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|X9|P|2.5.1\rPID|1||1||M\xfcller")

    assert decoded.problem is not None
    assert (decoded.problem.code, decoded.problem.severity) == (
        ProblemCode.UNDECODABLE_CHARSET, "reject",
    )  # fmt: skip
    assert parse_oru(decoded.text).control_id == "X9"  # still readable to address the AR


def test_unsupported_charset_is_rejected() -> None:
    msh = "MSH|^~\\&|A|B|C|D|2026||ORU^R01|X9|P|2.5.1||||||ISO IR87"

    decoded = decode_payload(msh.encode())

    assert decoded.problem is not None
    assert decoded.problem.code == ProblemCode.UNSUPPORTED_CHARSET
    assert (decoded.problem.field, decoded.problem.segment) == (18, "MSH")


def test_decode_payload_of_garbage() -> None:
    assert decode_payload(b"\xff\xfe").problem is not None
    assert decode_payload(b"").text == ""
