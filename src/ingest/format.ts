// The documented CSV exchange format: written by `npm run demo:export`, read by `npm run import`
// by default, consumed by the Python training pipeline. Keep it stable.
//
// customers.csv  customer_id,name,email,gender,birth_date,country,created_at
// orders.csv     order_id,customer_id,ordered_at,amount,item_count,currency,status
//
// Dates: birth_date YYYY-MM-DD; created_at / ordered_at ISO-8601 UTC with milliseconds and Z
// (2025-01-31T12:34:56.789Z). amount has exactly 2 decimals. Empty cell = missing value.
import type { CustomerRow, OrderRow } from './bulk.js';

export const CUSTOMER_COLUMNS = ['customer_id', 'name', 'email', 'gender', 'birth_date', 'country', 'created_at'] as const;
export const ORDER_COLUMNS = ['order_id', 'customer_id', 'ordered_at', 'amount', 'item_count', 'currency', 'status'] as const;

export type CustomerColumn = (typeof CUSTOMER_COLUMNS)[number];
export type OrderColumn = (typeof ORDER_COLUMNS)[number];

/** RFC 4180 quoting, only when needed. */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CUSTOMER_HEADER = `${CUSTOMER_COLUMNS.join(',')}\n`;
export const ORDER_HEADER = `${ORDER_COLUMNS.join(',')}\n`;

export function customerCsvLine(c: CustomerRow): string {
  return `${[c.externalId, c.name, c.email, c.gender, c.birthDate, c.country, c.createdAt?.toISOString()].map(csvField).join(',')}\n`;
}

export function orderCsvLine(o: OrderRow): string {
  return `${[o.externalId, o.customerExternalId, o.orderedAt.toISOString(), o.amount, o.itemCount, o.currency, o.status].map(csvField).join(',')}\n`;
}
