// Per-request DataLoaders: everything a resolver needs per customer is fetched for the whole
// page in one statement. Created in the context factory, so nothing is cached across requests.
import DataLoader from 'dataloader';
import type { Database } from '../db/client.js';
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

export function createLoaders(db: Database): Loaders {
  const orderLoaders = new Map<string, DataLoader<string, Order[]>>();
  return {
    customerById: new DataLoader(async (ids) => {
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
