"""/v1/settings: the calling tenant's settings (review threshold, document mismatch, retention)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReadTenantDep, SessionDep, SettingsDep, TenantDep
from schemas.config import Settings
from schemas.trust.review_api import TenantSettingsOut, TenantSettingsPatch, TrustDefaults
from storage import trust_settings
from storage.models import Tenant

router = APIRouter(prefix="/v1/settings", tags=["settings"])


def _out(tenant: Tenant, settings: Settings) -> TenantSettingsOut:
    trust = settings.app.trust
    return TenantSettingsOut.model_validate(
        {
            "review_threshold": tenant.review_threshold,
            "on_mismatch": tenant.on_mismatch,
            "retention_days": tenant.retention_days,
            "defaults": TrustDefaults(
                review_threshold=trust.review_threshold,
                on_mismatch=trust.on_mismatch,
                retention_days=settings.app.retention.default_days,
            ),
        }
    )


@router.get("", response_model=TenantSettingsOut)
def read_settings(tenant: ReadTenantDep, settings: SettingsDep) -> TenantSettingsOut:
    """The tenant's settings (null: the server default in `defaults` applies)."""
    return _out(tenant, settings)


@router.patch("", response_model=TenantSettingsOut)
def update_settings(
    body: TenantSettingsPatch, session: SessionDep, tenant: TenantDep, settings: SettingsDep
) -> TenantSettingsOut:
    """Change the fields given (null: back to the default); jobs submitted later use them.

    A job snapshots its policy at submission: its own `review_threshold`, else its
    extractor's, else this one; `on_mismatch` says whether a document the schema does not
    describe fails the job (`fail`) or waits for review (`review`).
    """
    updated = trust_settings.set_tenant_settings(
        session=session, tenant_id=tenant.id, values=body.model_dump(exclude_unset=True)
    )
    out = _out(updated, settings)
    session.commit()  # before the answer: the next request must see the change
    return out
