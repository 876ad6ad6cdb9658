"""Leaderboards: a pure function of result records, rendered to terminal, Markdown, CSV and HTML."""
