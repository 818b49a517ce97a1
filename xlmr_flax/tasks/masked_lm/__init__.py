"""Masked language modelling on plain text."""
