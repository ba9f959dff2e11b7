"""digest: a self-hosted paper digest and alert bot.

The package is laid out as the pipeline it runs:
``ingest`` (read sources) -> ``store`` (persist) -> match -> rank -> render -> deliver,
with the CLI (``digest.cli``) on top.
"""

__version__ = "0.1.0"
