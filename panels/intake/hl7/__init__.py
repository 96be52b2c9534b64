"""HL7 v2.5.1 results interface. The parsing half is pure Python (no Django, DRF or Celery; see
test_purity); ``services`` (store, amend, archive, ACK) and ``views`` (HTTP) are the Django side.

- ``types``: the frozen dataclasses handed to the application (OruParse, Hl7Problem...).
- ``parse``: ``parse_oru(text)`` (never raises) and ``split_batch(text)``.
- ``ack``: ``build_ack(...)``, the ACK^R01^ACK with MSA and one ERR per problem.
- ``mllp``: MLLP framing, ``MllpDecoder``, ``serve_mllp(handler, ...)``, ``send_messages``.

docs/hl7-interface.md describes what is accepted and what each ACK means.
"""
