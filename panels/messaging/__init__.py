"""Messages from hospital interfaces (HL7 v2 over HTTP and MLLP): the Django side."""
