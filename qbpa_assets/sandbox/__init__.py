"""The QuickBooks Online emulator, the sample company and the demo Inventiv database.

Parts: ``emulator.py`` lists the modules of the API; ``company/`` generates the sample company;
``inventiv_demo.py`` builds the demo Inventiv database; ``cli.py`` is ``qbpa sandbox serve``.
"""
