// Runs a GraphQL operation when its variables change; the previous request is aborted.
import { useCallback, useEffect, useState } from 'react';
import { ApiError, request } from './api';
import type { TypedDocumentString } from './generated/graphql';

export interface QueryState<R> {
  data?: R;
  error?: ApiError;
  loading: boolean;
  reload(): void;
}

export function useQuery<R, V>(document: TypedDocumentString<R, V> | string, variables: V, skip = false): QueryState<R> {
  const [state, setState] = useState<{ data?: R; error?: ApiError; loading: boolean }>({ loading: !skip });
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(variables ?? null);
  useEffect(() => {
    if (skip) return;
    const controller = new AbortController();
    setState((s) => ({ data: s.data, loading: true }));
    request(document, variables, undefined, controller.signal).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if ((error as Error).name === 'AbortError') return;
        setState({ error: error instanceof ApiError ? error : new ApiError(String(error), undefined, 0), loading: false });
      },
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [document, key, tick, skip]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
