import type { ApiError } from '../api';
import { useSession } from '../sessionContext';

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorMessage({ error }: { error: ApiError }) {
  return (
    <div className="error" role="alert">
      <strong>{error.code ?? 'Error'}:</strong> {error.message}
    </div>
  );
}

/**
 * A personal field as the API returned it. For bi the API masks strings as "***" and other values
 * as null; a null is shown as "hidden" there, and as "—" (not set) for an admin.
 */
export function Maybe({ value }: { value: string | null | undefined }) {
  const { role } = useSession();
  if (value !== null && value !== undefined) return <>{value}</>;
  return role === 'admin' ? <span className="muted">—</span> : <span className="hidden-value">hidden</span>;
}
