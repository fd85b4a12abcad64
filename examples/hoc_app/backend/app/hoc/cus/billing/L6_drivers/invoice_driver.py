"""L6 billing driver (sync Session)."""

from __future__ import annotations

from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import get_engine
from app.models import Invoice


class InvoiceDriver:
    def __init__(self, session: Optional[Session] = None):
        self._session = session

    def _get_session(self) -> Session:
        if self._session is not None:
            return self._session
        return Session(get_engine())

    def list_invoices(self, tenant_id: str) -> List[Invoice]:
        session = self._get_session()
        try:
            return list(
                session.execute(select(Invoice).where(Invoice.tenant_id == tenant_id).order_by(Invoice.id)).scalars()
            )
        finally:
            if self._session is None:
                session.close()

    def mark_paid(self, tenant_id: str, invoice_id: int) -> bool:
        session = self._get_session()
        try:
            invoice = session.execute(
                select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
            ).scalar_one_or_none()
            if invoice is None:
                return False
            invoice.status = "paid"
            session.commit()
            return True
        finally:
            if self._session is None:
                session.close()


def void_invoice(session: Session, tenant_id: str, invoice_id: int) -> None:
    try:
        invoice = session.execute(
            select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
        ).scalar_one_or_none()
        if invoice is None:
            raise LookupError(f"not found: invoice {invoice_id}")
        if invoice.status == "paid":
            raise ValueError(f"invoice {invoice_id} is already paid")
        invoice.status = "void"
        session.commit()
    except Exception:
        session.rollback()
        raise
