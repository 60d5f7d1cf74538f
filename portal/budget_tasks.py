"""Celery beat task: check every budget and email administrators of thresholds crossed (once each)."""

from celery import shared_task

from portal.budgets import budgets_check_all


@shared_task(name="portal.budget_tasks.check_budgets")
def check_budgets() -> int:
    # Idempotent: BudgetAlert's unique (budget, period, threshold) lets a repeated run send nothing new.
    return budgets_check_all()
