"""Budgets: the caller's scope sees them (usage:read); administrators add them (budgets:manage)."""

import graphene

from billing.models import Location, Person
from portal.actors import actor_of_request
from portal.api.core.nodes import caller, decode_id
from portal.api.permissions import Permission, require
from portal.api.statements import MutationError
from portal.budgets import BudgetError, BudgetStatus, budget_create, budget_spent, budget_statuses, current_period


class BudgetType(graphene.ObjectType):
    class Meta:
        name = "Budget"
        description = "A spending limit per billing period, with what was spent of it so far."

    id = graphene.ID(required=True, description="Budget id.")
    applies_to = graphene.String(required=True, description="What it is for, e.g. 'Location Berlin'.")
    location_name = graphene.String(description="The location, for a location's budget.")
    person_name = graphene.String(description="The person, for a person's budget.")
    amount = graphene.Decimal(required=True, description="Per billing period, in the organization's currency.")
    currency = graphene.String(required=True, description="ISO 4217 currency.")
    thresholds = graphene.List(graphene.NonNull(graphene.Int), required=True, description="Alert at these percents.")
    spent = graphene.Decimal(required=True, description="Usage charges of the running billing period so far.")
    percent = graphene.Int(required=True, description="Spent as a whole percent of the amount.")

    def resolve_id(s: BudgetStatus, info):
        return s.budget.pk

    def resolve_applies_to(s: BudgetStatus, info):
        return s.label

    def resolve_location_name(s: BudgetStatus, info):
        return s.budget.location.name if s.budget.location_id else None

    def resolve_person_name(s: BudgetStatus, info):
        return s.budget.person.name if s.budget.person_id else None

    def resolve_amount(s: BudgetStatus, info):
        return s.budget.amount

    def resolve_currency(s: BudgetStatus, info):
        return s.budget.organization.currency

    def resolve_thresholds(s: BudgetStatus, info):
        return s.budget.thresholds


PERMISSIONS = {"budgets": Permission.USAGE, "createBudget": Permission.BUDGETS_MANAGE}


class Query(graphene.ObjectType):
    budgets = graphene.List(
        graphene.NonNull(BudgetType),
        required=True,
        description="Budgets of your scope: all for administrators and analysts, your locations' for a location manager.",
    )

    def resolve_budgets(root, info):
        return budget_statuses(caller(info).scope)


class CreateBudget(graphene.Mutation):
    class Meta:
        description = "Add a budget for the organization, one location or one person (administrators)."

    class Arguments:
        amount = graphene.Decimal(required=True, description="Per billing period, in the organization's currency.")
        thresholds = graphene.List(
            graphene.NonNull(graphene.Int), required=True, description="Percents, e.g. [80, 100]."
        )
        location_id = graphene.ID(description="Location id (global id); none for the whole organization.")
        person_id = graphene.ID(description="Person id (global id); none for the whole organization.")

    budget = graphene.Field(BudgetType, description="The budget, when added.")
    errors = graphene.List(graphene.NonNull(MutationError), required=True, description="Empty on success.")

    def mutate(root, info, amount, thresholds, location_id=None, person_id=None):
        c = require(info, Permission.BUDGETS_MANAGE)
        org = c.scope.organization

        def find(model, type_name, gid, field):
            pk = decode_id(gid, type_name, field)[1]
            return model.objects.filter(organization=org, pk=pk).first()

        location = find(Location, "Location", location_id, "locationId") if location_id else None
        person = find(Person, "Person", person_id, "personId") if person_id else None
        for given, found, field in ((location_id, location, "locationId"), (person_id, person, "personId")):
            if given and found is None:
                return CreateBudget(
                    errors=[MutationError(field=field, code="NOT_FOUND", message=f"{field}: not found")]
                )
        try:
            budget = budget_create(
                organization=org,
                amount=amount,
                thresholds=list(thresholds),
                location=location,
                person=person,
                actor=actor_of_request(info.context, c),
            )
        except BudgetError as error:
            field = {"applies_to": "locationId" if location else "personId" if person else None}.get(
                error.field, error.field
            )
            return CreateBudget(errors=[MutationError(field=field, code=error.code, message=str(error))])
        period = current_period(org)
        return CreateBudget(budget=BudgetStatus(budget, period, budget_spent(budget, period)), errors=[])


class Mutation(graphene.ObjectType):
    create_budget = CreateBudget.Field(description="Add a budget (refused for a subject that already has one).")
