"""Exit passes as a gate sees them: the signed token format and an offline verifier.

Pure Python with only ``cryptography``: no Django, no database, so the same code runs in
the server and on a gate device whose network is down.
"""
