"""The REST API under /api/v1/ (DESIGN.md, "Outside contract").

auth.py decides who is calling (an API key or a browser session),
permissions.py which workspace the request acts in and what the caller's role
allows there, errors.py the shape of every error. Views parse, call a service
from builder/services.py or automation/, and serialise.
"""
