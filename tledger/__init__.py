"""tledger's faces: the command line (``tledger.cli``) and the demo (``tledger.demo``).

What flows through this package: arguments in, calls to the ledger API (``ledger``), the
importers (``importers``) and the reports (``reports``), and text, tables or files out.
It holds no reconciliation, import or storage rule of its own; those live below it.
"""
