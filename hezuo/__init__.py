"""hezuo (合作): the working platform of a supply-and-marketing cooperative federation."""

__version__ = "0.1.0"
