"""Exports: the CSV files of each layout and the JSON Lines run of the chain (docs/exports.md)."""
