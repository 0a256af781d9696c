"""MMSC connectors behind one small abstract base (`base.Connector`)."""
