"""htx-assistant: answers about Vietnamese cooperative policy documents, with the clause they come from."""
from .models import Answer, Citation, Filters, Hit, QuestionError

__all__ = ["Assistant", "Answer", "Citation", "Filters", "Hit", "QuestionError"]


def __getattr__(name: str):
    # Imported lazily: `Assistant` pulls in the embedder and Chroma, which `htx --help` need not load.
    if name == "Assistant":
        from .api import Assistant

        return Assistant
    raise AttributeError(name)
