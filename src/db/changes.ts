// Every serving process sees every write. Triggers on "Order" and "Customer" (migration
// `change_notifications`) NOTIFY the channel below with the customers a statement touched; NOTIFY
// is transactional, so a rolled-back import announces nothing and a committed one announces its
// customers once it is visible. Whoever wrote — recordOrder on any replica, `npm run import`,
// `db:seed`, plain SQL — each server hears it: on PostgreSQL through its own LISTEN connection, on
// the embedded database through its owner (see owner-socket.ts), and drops its cached predictions.
export const CHANGES_CHANNEL = 'cia_changes';

export type Change = { kind: 'customers'; customerIds: string[] } | { kind: 'all' };

/** Payloads: `c:<uuid>,<uuid>,…` for a few customers, `*` for many (or anything unknown). */
export function parseChange(payload: string): Change {
  if (payload.startsWith('c:')) {
    const customerIds = payload.slice(2).split(',').filter(Boolean);
    if (customerIds.length > 0) return { kind: 'customers', customerIds };
  }
  return { kind: 'all' };
}

export interface ChangeSubscription {
  close(): Promise<void>;
}

export interface ChangeHandlers {
  onChange(change: Change): void;
  /**
   * Notifications may have been missed (the listening connection dropped and came back): whatever
   * is cached may be stale.
   */
  onGap(reason: string): void;
}
