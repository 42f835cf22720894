"""Prometheus metrics of GraphQL operations and impact computations, kept in the app's registry."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import DocumentNode, FieldNode, GraphQLSchema, OperationDefinitionNode
from prometheus_client import CollectorRegistry, Counter, Histogram
from strawberry.extensions import SchemaExtension

# Seconds; impact analysis of a large hospital can take longer than a lookup.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GraphQLMetrics:
    """Counters and histograms of GraphQL operations, labelled by operation type and root field.

    Root field names come from the schema, so the label values stay few whatever
    clients send; the client-chosen operation name is not used as a label.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.operations = Counter(
            "cmdb_graphql_operations",
            "GraphQL root fields executed, by operation type, field and outcome (ok or error).",
            ["operation", "field", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "cmdb_graphql_operation_seconds",
            "Time to execute a GraphQL operation, by operation type and root field.",
            ["operation", "field"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.impact_seconds = Histogram(
            "cmdb_impact_seconds",
            "Time to compute one impact analysis.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.impacted_cis = Histogram(
            "cmdb_impact_impacted_cis",
            "Number of impacted CIs in one impact analysis.",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 10000),
            registry=registry,
        )


def find_operation(document: DocumentNode | None, name: str | None) -> OperationDefinitionNode | None:
    """Return the operation of ``document`` that a request runs: the one called ``name``, else the first."""
    if document is None:
        return None
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if name is None or (definition.name is not None and definition.name.value == name):
            return definition
    return None


def _root_fields(schema: GraphQLSchema, operation: OperationDefinitionNode | None) -> list[str]:
    """Return the root field names of ``operation``, "unknown" for any the schema does not define."""
    if operation is None:
        return ["unknown"]
    root_type = schema.get_root_type(operation.operation)
    defined = set(root_type.fields) if root_type is not None else set()
    names = [
        selection.name.value if selection.name.value in defined else "unknown"
        for selection in operation.selection_set.selections
        if isinstance(selection, FieldNode)
    ]
    return names or ["unknown"]


class MetricsExtension(SchemaExtension):
    """Record the count and latency of each operation in the metrics of the request's context."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        services = getattr(self.execution_context.context, "services", None)
        metrics: GraphQLMetrics | None = getattr(services, "metrics", None)
        if metrics is None:
            return
        elapsed = time.perf_counter() - started
        operation = find_operation(
            self.execution_context.graphql_document, self.execution_context.operation_name
        )
        operation_type = operation.operation.value if operation is not None else "invalid"
        result = self.execution_context.result
        outcome = "error" if result is None or result.errors else "ok"
        for field_name in _root_fields(self.execution_context.schema._schema, operation):
            metrics.operations.labels(operation_type, field_name, outcome).inc()
            metrics.latency.labels(operation_type, field_name).observe(elapsed)
