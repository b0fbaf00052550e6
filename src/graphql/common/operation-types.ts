// graphql-js 16 validates `subscription { … }` against a schema without a Subscription type and
// only fails at execution ("Schema is not configured to execute subscription operation"), an
// uncoded error that would be masked as INTERNAL_SERVER_ERROR. This rule (graphql-js 17's
// KnownOperationTypesRule) refuses such an operation during validation: GRAPHQL_VALIDATION_FAILED.
import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';

export function KnownOperationTypesRule(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(node) {
      if (!context.getSchema().getRootType(node.operation)) {
        context.reportError(new GraphQLError(`This API has no ${node.operation} operations.`, { nodes: node }));
      }
    },
  };
}
