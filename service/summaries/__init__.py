"""Summaries as documents: number formatting and sentences (text), charts, and the output formats (render)."""
