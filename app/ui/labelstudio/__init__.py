"""The Label Studio tab of the main window (see ``LabelStudioPanel``)."""

from app.ui.labelstudio.panel import LabelStudioPanel

__all__ = ["LabelStudioPanel"]
