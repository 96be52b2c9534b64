"""HL7 v2.5.1 results interface. The parsing half is pure Python (no Django, DRF or Celery; see
test_purity); the Django side receives, stores, amends and archives.

Pure:

- ``types``: the frozen dataclasses handed to the application (OruParse, Hl7Problem...).
- ``parse``: ``parse_oru(text)`` (never raises), the message and its segment groups; it reads
  ``header`` (MSH), ``patient`` (PID), ``order`` (OBR) and ``observations`` (OBX values and
  units) through ``segments`` (python-hl7's tree, unescaping, located problems).
- ``batch``: ``read_batch``/``split_batch`` (FHS/BHS envelopes).
- ``ack``: ``build_ack(...)``, the ACK^R01^ACK with MSA and one ERR per problem.
- ``mllp``: the asyncio server ``serve_mllp(handler, ...)``; ``framing`` (``frame``,
  ``MllpDecoder``), ``charsets`` (MSH-18 decoding) and ``client`` (``MllpClient``,
  ``send_messages``).

Django side:

- ``services``: ``hl7_receive``/``hl7_receive_any``, one message (or batch) in, one ACK out;
  ``submissions`` (each OBR group to a panel submission; ``fields``: HL7 dates, times,
  specimens), ``corrections`` (OBX-11 C amends a stored panel), ``archive`` (every message
  kept with its ACK; the replay of a resend).
- ``views``: ``POST /api/v1/hl7/``.

docs/hl7-interface.md describes what is accepted and what each ACK means.
"""
