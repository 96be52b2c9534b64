"""The read audit (HIPAA §164.312(b)): who looked at which patient's data, when and from where."""
