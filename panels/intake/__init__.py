"""The ways a panel comes in: the JSON submission (and the panels API), file parsers and bulk
imports, HL7 over HTTP and MLLP, amendments.

They orchestrate a submission: they build it with ``panels.submission``, store it through
``panels``, and ask ``reports`` for its report. Nothing below ``panels.intake`` imports it.
No Django import here: the pure parsers (``files``, ``hl7`` parse/ack/mllp/types) load without it.
"""
