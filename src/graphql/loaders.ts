// Per-request DataLoaders: everything a resolver needs per customer is fetched for the whole
// page in one statement. Created in the context factory, so nothing is cached across requests.
// Lookups by id that every single-customer request makes (the customer, its features) also go
// through the process-wide coalescers below, which merge concurrent requests' lookups into one
// statement (src/db/coalesce.ts); each request still has its own cache.
import DataLoader from 'dataloader';
import { Coalescer } from '../db/coalesce.js';
import type { Database } from '../db/client.js';
import { featuresForCustomers, type CustomerFeatures } from '../features/index.js';
import {
  customersByExternalIds,
  customersByIds,
  emptyStats,
  statsByCustomerIds,
} from './customer/customer.repository.js';
import { orderCountsByCustomerIds, ordersByCustomerIds } from './order/order.repository.js';
import type { Customer, CustomerStats } from './customer/customer.type.js';
import type { Order } from './order/order.type.js';

export interface Loaders {
  customerById: DataLoader<string, Customer | null>;
  customerByExternalId: DataLoader<string, Customer | null>;
  stats: DataLoader<string, CustomerStats>;
  orderCount: DataLoader<string, number>;
  /** One loader per distinct (first, after) so a page's customers share one query. */
  orders(first: number, after: { orderedAt: Date; id: string } | null): DataLoader<string, Order[]>;
}

/** Process-wide: created once per server, shared by every request's loaders. */
export interface CoalescedReads {
  customersById: Coalescer<string, Customer>;
  /** Group = the scoring time (ISO string). */
  features: Coalescer<string, CustomerFeatures>;
}

export function createCoalescedReads(db: Database): CoalescedReads {
  // PostgreSQL runs two statements at once on two backends. The embedded database runs one at a
  // time on its thread (a second would only wait for it), and every statement costs it ~0.3–1 ms
  // of fixed CPU there: one in flight, so the lookups that arrive meanwhile share the next.
  const options = { maxKeys: 1000, maxInFlight: db.kind === 'pglite' ? 1 : 2 };
  return {
    customersById: new Coalescer(async (_group, ids) => new Map((await customersByIds(db, ids)).map((c) => [c.id, c])), options),
    features: new Coalescer((asOf, ids) => featuresForCustomers(db, ids, new Date(asOf)), options),
  };
}

export function createLoaders(db: Database, reads?: CoalescedReads): Loaders {
  const orderLoaders = new Map<string, DataLoader<string, Order[]>>();
  return {
    customerById: new DataLoader(async (ids) => {
      if (reads) return (await reads.customersById.load('', ids)).map((c) => c ?? null);
      const found = new Map((await customersByIds(db, ids)).map((c) => [c.id, c]));
      return ids.map((id) => found.get(id) ?? null);
    }),
    customerByExternalId: new DataLoader(async (keys) => {
      const found = new Map((await customersByExternalIds(db, keys)).map((c) => [c.externalId, c]));
      return keys.map((k) => found.get(k) ?? null);
    }),
    stats: new DataLoader(async (ids) => {
      const found = await statsByCustomerIds(db, ids);
      return ids.map((id) => found.get(id) ?? emptyStats);
    }),
    orderCount: new DataLoader(async (ids) => {
      const found = await orderCountsByCustomerIds(db, ids);
      return ids.map((id) => found.get(id) ?? 0);
    }),
    orders(first, after) {
      const key = JSON.stringify([first, after?.orderedAt.toISOString() ?? null, after?.id ?? null]);
      let loader = orderLoaders.get(key);
      if (!loader) {
        loader = new DataLoader(async (ids) => {
          const found = await ordersByCustomerIds(db, ids, first, after);
          return ids.map((id) => found.get(id) ?? []);
        });
        orderLoaders.set(key, loader);
      }
      return loader;
    },
  };
}
