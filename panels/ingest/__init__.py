"""Pure parsers for what arrives from the bench and from hospital interfaces.

No Django imports below this package: files and messages in, plain dataclasses out.
"""
