"""The version of seqgen (a module of its own, so low layers can read it without importing the package API)."""

__version__ = "0.1.0"
