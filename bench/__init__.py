"""Benchmarks of the charm's code beside its peers: curl, python-libjuju, a bare ops charm.

Run ``python -m bench`` (or ``tox -e bench``); ``--quick`` runs small sizes only. Each
measurement runs in a fresh process so that peak memory and start-up are those of one
operation; the results table goes to stdout and, for full runs, to ``bench/results.md``.
"""
