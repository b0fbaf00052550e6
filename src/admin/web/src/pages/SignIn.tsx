// Sign-in: the key is checked by asking the API who it belongs to (Query.viewer). Only a key that
// works is kept, in sessionStorage.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, request } from '../api';
import { ViewerDocument } from '../generated/graphql';
import type { Role, Session } from '../session';

export function SignIn({ onSignedIn }: { onSignedIn(s: Session): void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const apiKey = key.trim();
    try {
      const { viewer } = await request(ViewerDocument, {}, apiKey);
      const role = viewer.role as Role;
      if (role !== 'admin' && role !== 'bi') {
        setError(`A ${role} key cannot use the dashboard: sign in with an admin or bi key.`);
      } else {
        onSignedIn({ apiKey, role });
        return;
      }
    } catch (err) {
      const e = err as ApiError;
      if (e.code === 'UNAUTHENTICATED') {
        setError(apiKey ? 'This API key is not valid (unknown or revoked). Check it and try again.' : 'An API key is required: this server does not accept requests without one.');
      } else if (e.code === 'FORBIDDEN') {
        setError('This key cannot use the dashboard: sign in with an admin or bi key.');
      } else if (e.code === 'RATE_LIMITED') {
        setError(`Too many attempts. ${e.message}`);
      } else {
        setError(`Sign-in failed: ${e.message}`);
      }
    } finally {
      setBusy(false);
    }
    input.current?.focus();
  }

  return (
    <main id="main" className="signin">
      <h1>Customer intelligence</h1>
      <p>Sign in with an API key of role <strong>admin</strong> or <strong>bi</strong> (create one with <code>npm run apikey -- create --role bi</code>).</p>
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          ref={input}
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby="api-key-hint"
        />
        <p id="api-key-hint" className="muted">
          Kept in this browser tab only (session storage); never put in a URL. Leave empty on a development server without authentication.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p id="signin-error" className="error" role="alert">
            {error}
          </p>
        )}
      </form>
      <p>
        <a href="/graphiql">GraphQL IDE</a>
      </p>
    </main>
  );
}
