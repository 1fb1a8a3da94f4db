"""Operator commands of the ``qbpa`` command line (``qbpa authorize``, ``qbpa check``)."""
