"""Imports every table module so ``SQLModel.metadata`` is complete (Alembic, tests)."""

from sqlmodel import SQLModel

from alerts.access import models as access_models
from alerts.access import user_models
from alerts.audit import models as audit_models
from alerts.dispatch import models as dispatch_models
from alerts.intake import models as intake_models
from alerts.subscribers import models as subscriber_models

metadata = SQLModel.metadata

__all__ = [
    "access_models",
    "audit_models",
    "dispatch_models",
    "intake_models",
    "metadata",
    "subscriber_models",
    "user_models",
]
