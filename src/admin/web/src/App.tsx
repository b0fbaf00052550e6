import { useEffect, useRef, useState } from 'react';
import { Customer } from './pages/Customer';
import { Customers } from './pages/Customers';
import { Models } from './pages/Models';
import { Overview } from './pages/Overview';
import { SignIn } from './pages/SignIn';
import { Link, match, Router, useRouter } from './router';
import { clearSession, loadSession, saveSession, type Session } from './session';
import { SessionContext } from './sessionContext';

const titles: Record<string, string> = { '/': 'Overview', '/customers': 'Customers', '/models': 'Models' };

function Page() {
  const { location } = useRouter();
  const params = match('/customers/:id', location.path);
  if (params) return <Customer id={params.id!} />;
  switch (location.path) {
    case '/':
      return <Overview />;
    case '/customers':
      return <Customers />;
    case '/models':
      return <Models />;
    default:
      return (
        <>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            There is no page here. <Link to="/">Back to the overview</Link>.
          </p>
        </>
      );
  }
}

function Layout({ session, onSignOut }: { session: Session; onSignOut(): void }) {
  const { location } = useRouter();
  const main = useRef<HTMLElement>(null);
  // After a page change, move focus to the new page's heading so keyboard and screen-reader users
  // start there (a plain page load keeps the browser's default).
  const first = useRef(true);
  useEffect(() => {
    const section = location.path.startsWith('/customers/') ? 'Customer' : (titles[location.path] ?? 'Not found');
    document.title = `${section} — customer intelligence`;
    if (first.current) {
      first.current = false;
      return;
    }
    const h1 = main.current?.querySelector('h1');
    h1?.focus();
  }, [location.path]);
  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Customer intelligence</span>
        <nav aria-label="Main">
          <Link to="/">Overview</Link>
          <Link to="/customers">Customers</Link>
          <Link to="/models">Models</Link>
          <a href="/graphiql">GraphQL IDE</a>
        </nav>
        <span className="who">
          Signed in as <strong data-testid="role">{session.role}</strong>
          <button type="button" className="link" onClick={onSignOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page />
      </main>
    </SessionContext.Provider>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  return (
    <Router>
      {session ? (
        <Layout
          key={session.apiKey}
          session={session}
          onSignOut={() => {
            clearSession();
            setSession(null);
          }}
        />
      ) : (
        <SignIn
          onSignedIn={(s) => {
            saveSession(s);
            setSession(s);
          }}
        />
      )}
    </Router>
  );
}
