"""The web face (``tledger serve``): pages over the ledger API; see :mod:`tledger.web.app`."""
