"""Model indexes that need a word per database engine."""

from __future__ import annotations

from django.db import models


class NullsLastIndex(models.Index):
    """An index whose `OrderBy(..., nulls_last=True)` parts say NULLS LAST on PostgreSQL (where a
    DESC column otherwise puts NULLs first, so ORDER BY ... DESC NULLS LAST could not use it). SQLite
    refuses NULLS LAST in an index and needs none: it sorts NULL lowest, so DESC puts NULLs last."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        plain = self.clone()
        plain.expressions = tuple(
            models.OrderBy(e.expression, descending=e.descending) if isinstance(e, models.OrderBy) else e
            for e in self.expressions)
        return models.Index.create_sql(plain, model, schema_editor, using=using, **kwargs)
