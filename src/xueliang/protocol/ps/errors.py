"""The error of the program stream layer.

Hostile or broken bytes never raise: the demuxer counts them (``errors``, ``resyncs``) and skips to the next pack
start code. :class:`PsError` is for misuse by our own code, such as muxing a codec a program stream cannot carry.
"""

from __future__ import annotations


class PsError(ValueError):
    """A program stream operation our own code asked for cannot be done."""
