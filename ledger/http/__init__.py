"""The HTTP API (`ledger serve`): an entry point beside the CLI, on the use cases of ledger.app."""
