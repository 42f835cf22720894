"""Query limits: depth, aliases, tokens, an estimate of the cost of a query's traversals, and the
choice of one operation.

The cost estimate adds up the cost of every expensive field, multiplied by
the number of items of every list field it is nested in: a neighbours field
inside cis(first: 500) is counted 500 times. Page sizes and depths are read
from the arguments (variables included); the sizes of unpaginated traversals
and the cost of an impact analysis are fixed estimates.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    value_from_ast_untyped,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.schema import validate_document

from cmdb.graphql.errors import shorten
from cmdb.settings import Settings
from cmdb.store.base import MAX_NEIGHBOUR_DEPTH, MAX_PAGE_SIZE

# NOTE: these are estimates of a hospital graph's fan-out, not bounds. On the generated demo hospital
# (seed 7, scale 1, 2,444 CIs in SQLite), neighbours() from the first 100 CIs by key reached 20 CIs on
# average at depth 1, 467 at depth 2 and 1,382 at depth 3. The reach grows about geometrically until it
# covers the graph.
NEIGHBOURS_PER_STEP = 20
# The estimated reach of one neighbours traversal stops growing here, as a graph has only so many CIs.
MAX_NEIGHBOURS_REACHED = 10_000
RELATIONSHIPS_PER_CI = 20
PATH_LENGTH = 10
# An impact analysis loads a closure of the graph, which costs as much as a large page of traversals.
IMPACT_COST = 5000


@dataclass(frozen=True, slots=True)
class FieldCost:
    """Estimated cost of one evaluation of a field, and the items it returns.

    Fields nested inside are evaluated once per item.
    """

    cost: int
    items: int


def _int_argument(arguments: Mapping[str, Any], name: str, default: int, maximum: int) -> int:
    value = arguments.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        # A variable left unset or of the wrong type: assume the worst the field allows.
        return maximum
    return max(0, min(value, maximum))


def _page(arguments: Mapping[str, Any]) -> FieldCost:
    first = _int_argument(arguments, "first", 50, MAX_PAGE_SIZE)
    return FieldCost(cost=first, items=first)


def _neighbours(arguments: Mapping[str, Any]) -> FieldCost:
    depth = _int_argument(arguments, "depth", 1, MAX_NEIGHBOUR_DEPTH)
    reached = min(NEIGHBOURS_PER_STEP**depth, MAX_NEIGHBOURS_REACHED)
    return FieldCost(cost=reached, items=reached)


# Fields that return lists of unbounded size or run traversals, by (parent type, field).
FIELD_COSTS: dict[tuple[str, str], Callable[[Mapping[str, Any]], FieldCost]] = {
    ("Query", "cis"): _page,
    ("Query", "impact"): lambda _: FieldCost(cost=IMPACT_COST, items=1),
    ("Query", "impactAsOf"): lambda _: FieldCost(cost=IMPACT_COST, items=1),
    ("CI", "neighbours"): _neighbours,
    ("CI", "relationships"): lambda _: FieldCost(cost=RELATIONSHIPS_PER_CI, items=RELATIONSHIPS_PER_CI),
    ("ImpactReport", "impacted"): _page,
    ("ImpactedCI", "pathCIs"): lambda _: FieldCost(cost=PATH_LENGTH, items=PATH_LENGTH),
}


class CostEstimator:
    """Walks an operation's selections with the schema's types and sums the estimated cost."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def operation_cost(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        return self._selection_cost(operation.selection_set, root, 1, frozenset())

    def _selection_cost(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        multiplier: int,
        visited: frozenset[str],
    ) -> int:
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self._field_cost(selection, parent, multiplier, visited)
            elif isinstance(selection, InlineFragmentNode):
                inner = (
                    self._type_named(selection.type_condition.name.value)
                    if selection.type_condition
                    else None
                )
                cost += self._selection_cost(selection.selection_set, inner or parent, multiplier, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visited:
                    continue
                inner = self._type_named(fragment.type_condition.name.value)
                cost += self._selection_cost(
                    fragment.selection_set, inner or parent, multiplier, visited | {name}
                )
        return cost

    def _field_cost(
        self, node: FieldNode, parent: GraphQLNamedType, multiplier: int, visited: frozenset[str]
    ) -> int:
        if not isinstance(parent, GraphQLObjectType):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        estimate = FIELD_COSTS.get((parent.name, node.name.value))
        items = 1
        cost = 0
        if estimate is not None:
            arguments = {
                argument.name.value: value_from_ast_untyped(argument.value, dict(self.variables))
                for argument in node.arguments or ()
            }
            field_cost = estimate(arguments)
            items = field_cost.items
            cost = multiplier * field_cost.cost
        if node.selection_set is not None:
            child_type = get_named_type(definition.type)
            cost += self._selection_cost(node.selection_set, child_type, multiplier * items, visited)
        return cost

    def _type_named(self, name: str) -> GraphQLNamedType | None:
        return self.schema.get_type(name)


def traversal_cost_errors(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any], max_cost: int
) -> list[GraphQLError]:
    """Return an error for each operation of ``document`` whose estimated cost exceeds ``max_cost``."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    estimator = CostEstimator(schema, fragments, variables)
    errors: list[GraphQLError] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        cost = estimator.operation_cost(definition)
        if cost > max_cost:
            name = definition.name.value if definition.name else "the query"
            errors.append(
                GraphQLError(
                    f"estimated traversal cost {cost} of {name} exceeds the limit of {max_cost};"
                    " lower first or neighbours depth, or split the query",
                    definition,
                )
            )
    return errors


class OperationChoiceRule(ValidationRule):
    """Reject a document of several operations sent without operationName.

    The GraphQL specification requires operationName when a document has several operations, but
    strawberry 0.341 runs the first one. The rule is added only to requests that name no operation.
    """

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        operations = [d for d in context.document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) > 1:
            names = ", ".join(d.name.value if d.name else "(anonymous)" for d in operations)
            context.report_error(
                GraphQLError(
                    f"the document contains {len(operations)} operations ({shorten(names)});"
                    " send operationName to choose the one to run",
                    operations,
                )
            )


class ValidationResults:
    """Results of the validation rules that depend on the query text alone, by text and rule set.

    Full validation of a query against this schema takes milliseconds, which is longer than
    a small impact analysis. Clients send the same few query texts with new variables, so the
    results are kept, the least recently used dropped first. Only the cost, which reads the
    variables, is estimated on every request.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._max_entries = max_entries
        self._results: OrderedDict[tuple[str, tuple[type[ASTValidationRule], ...]], list[GraphQLError]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def validate(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        key = (query, rules)
        with self._lock:
            cached = self._results.get(key)
            if cached is not None:
                self._results.move_to_end(key)
                return list(cached)
        errors = list(validate_document(schema, document, rules))
        with self._lock:
            self._results[key] = errors
            while len(self._results) > self._max_entries:
                self._results.popitem(last=False)
        return list(errors)


class QueryLimits(SchemaExtension):
    """Validate a request with the standard rules and every query limit.

    Depth and alias limits and the one-operation rule depend on the query text alone, so
    their results come from ``ValidationResults``. The traversal cost reads the request's
    variables, so it is checked on every request.
    """

    def __init__(
        self,
        *,
        static_rules: tuple[type[ASTValidationRule], ...],
        max_cost: int,
        results: ValidationResults,
    ) -> None:
        self.static_rules = static_rules
        self.max_cost = max_cost
        self.results = results

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is None or context.query is None:
            yield
            return
        rules = (*context.validation_rules, *self.static_rules)
        # NOTE: strawberry 0.341 keeps the name the request sent only in this private attribute, because
        # its public operation_name falls back to the first operation's name once the document is parsed.
        if context._provided_operation_name is None:
            rules = (*rules, OperationChoiceRule)
        schema = context.schema._schema
        errors = self.results.validate(schema, context.query, document, rules)
        if not errors:
            errors = traversal_cost_errors(schema, document, context.variables or {}, self.max_cost)
        context.pre_execution_errors = errors
        yield


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Return factories of the limit extensions; their rule classes are built once per schema."""
    static_rules: tuple[type[ASTValidationRule], ...] = (
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    )
    results = ValidationResults()
    return [
        # The token limit applies while parsing, through the parse options, so it comes first;
        # parsed documents are then kept by query text and options.
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=256),
        lambda: QueryLimits(static_rules=static_rules, max_cost=settings.max_traversal_cost, results=results),
    ]
