import 'reflect-metadata';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { applyFieldPolicy } from './auth/field-policy.js';
import { ViewerResolver } from './auth/viewer.resolver.js';
import { CustomerResolver } from './customer/customer.resolver.js';
import { OrderResolver } from './order/order.resolver.js';
import { ModelResolver } from './model/model.resolver.js';
import { CustomerPredictionResolver, PredictionResolver } from './prediction/prediction.resolver.js';
import { CustomerLifetimeResolver } from './lifetime/lifetime.resolver.js';
import { CustomerScoreResolver, ScoreRunResolver, SegmentSummaryResolver } from './segment/segment.resolver.js';

/** The committed SDL; a test fails when the code's schema drifts from it. */
export const schemaFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema.graphql');

let built: Promise<GraphQLSchema> | undefined;

/** Built once per process. Input checks live in the resolvers (they need config and the database). */
export function getSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({ resolvers: [CustomerResolver, OrderResolver, CustomerPredictionResolver, PredictionResolver, CustomerLifetimeResolver, ModelResolver, CustomerScoreResolver, SegmentSummaryResolver, ScoreRunResolver, ViewerResolver], validate: false }).then(
    // Field-level authorization (src/graphql/auth/policy.ts) on every field.
    applyFieldPolicy,
  );
  return built;
}
