"""The Training view of one running model server: jobs, live metric curves, versions."""

from app.ui.training.view import TrainingView

__all__ = ["TrainingView"]
