"""Sharing: play tokens now; accounts, grants and the authorisation module come with issue 5."""
