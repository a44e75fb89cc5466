"""Corpora and the text streams cut from them; nothing here knows about models."""
