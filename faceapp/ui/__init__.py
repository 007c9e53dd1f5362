"""The PySide6 desktop app: windows, dialogs, and the bridge that carries pipeline results to the GUI thread."""
