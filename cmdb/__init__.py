"""Clinical CMDB: a graph of a hospital's configuration items and impact analysis over it."""

__version__ = "0.1.0"
