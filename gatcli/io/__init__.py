"""Readers, writers and format detection: files in, arrays out, and back."""
