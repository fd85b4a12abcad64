"""L4 handlers for the accounts domain."""

from __future__ import annotations

from app.hoc.cus.hoc_spine.orchestrator.operation_registry import (
    OperationContext,
    OperationRegistry,
    OperationResult,
)


class AccountsQueryHandler:
    """accounts.query: read-only account lookups (async session)."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        from app.hoc.cus.accounts.L6_drivers.account_query_driver import AccountQueryDriver

        driver = AccountQueryDriver(ctx.session)
        dispatch = {
            "list": driver.list_accounts,
            "count": driver.count_accounts,
        }
        method = ctx.params.get("method")
        query = dispatch.get(method)
        if query is None:
            return OperationResult.fail(f"Unknown method: {method}", "UNKNOWN_METHOD")
        kwargs = {k: v for k, v in ctx.params.items() if k != "method"}
        data = await query(ctx.tenant_id, **kwargs)
        return OperationResult.ok(data)


class AccountKeysHandler:
    """accounts.keys: issue API keys (sync session)."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        from app.hoc.cus.accounts.L6_drivers import api_key_driver
        from app.models import ApiKey

        method = ctx.params.get("method")
        if method != "issue":
            return OperationResult.fail(f"Unknown method: {method}", "UNKNOWN_METHOD")
        account_id = ctx.params["account_id"]
        if not api_key_driver.account_exists(ctx.session, ctx.tenant_id, account_id):
            return OperationResult.fail(f"account {account_id} not found", "NOT_FOUND")
        key = ApiKey(tenant_id=ctx.tenant_id, account_id=account_id, label=ctx.params["label"], revoked=False)
        api_key_driver.save_api_key(ctx.session, key)
        ctx.session.commit()
        data = {"id": key.id, "account_id": account_id, "label": key.label, "revoked": False}
        return OperationResult.ok(data)


class AccountWebhooksHandler:
    """accounts.webhooks: list and add an account's webhook subscriptions."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        from app.hoc.cus.accounts.L5_engines.webhook_engine import (
            AccountNotFound,
            WebhookRejected,
            get_webhook_engine,
        )

        engine = get_webhook_engine()
        method = ctx.params.get("method")
        account_id = ctx.params["account_id"]
        if method == "list":
            try:
                hooks = await engine.list_for_account(ctx.tenant_id, account_id)
            except AccountNotFound as exc:
                return OperationResult.fail(str(exc), "NOT_FOUND")
            return OperationResult.ok(hooks)
        if method == "subscribe":
            try:
                hook = await engine.subscribe(ctx.tenant_id, account_id, ctx.params["event"], ctx.params["url"])
            except AccountNotFound as exc:
                return OperationResult.fail(str(exc), "NOT_FOUND")
            except WebhookRejected as exc:
                return OperationResult.fail(str(exc), "INVALID")
            return OperationResult.ok(hook)
        return OperationResult.fail(f"Unknown method: {method}", "UNKNOWN_METHOD")


def register(registry: OperationRegistry) -> None:
    registry.register("accounts.query", AccountsQueryHandler())
    registry.register("accounts.keys", AccountKeysHandler())
    registry.register("accounts.webhooks", AccountWebhooksHandler())
