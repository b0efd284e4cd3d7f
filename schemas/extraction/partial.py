"""The relaxed model a chunk of a long document is extracted into."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, create_model

__all__ = ["partial_model"]


def partial_model(model: type[BaseModel]) -> type[BaseModel]:
    """`model` with every top-level field optional and no whole-object validators.

    A chunk holds part of the document: whole-document checks (totals, required fields)
    only apply to the merged result.
    """
    fields: dict[str, Any] = {
        name: (Optional[field.annotation], None)  # noqa: UP045 - annotation is a runtime value
        for name, field in model.model_fields.items()
    }
    built: type[BaseModel] = create_model(
        f"{model.__name__}Part", __config__=model.model_config, **fields
    )
    return built
