// The GraphQL IDE: GraphiQL from npm, bundled (Monaco's workers included), so it runs offline.
// The API key field above it is stored like the dashboard's sign-in (sessionStorage, this tab only)
// and sent as `Authorization: Bearer …` with every request; it never goes into a URL or into
// GraphiQL's persisted headers.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { GraphiQL } from 'graphiql';
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { storedApiKey, storeApiKey } from './session';
import './ide.css';

type FetcherParams = { query: string; operationName?: string | null; variables?: unknown };

const defaultQuery = `# The served models, and a page of customers with their segment and why.
query Example {
  models { name version isDefault metrics }
  customers(first: 3, orderBy: { field: TOTAL_SPENT, direction: DESC }) {
    totalCount
    edges {
      node {
        externalId
        name
        segment
        probability
        explanation(top: 3) { summary }
      }
    }
  }
}
`;

function Ide() {
  const [key, setKey] = useState(storedApiKey);
  const fetcher = async (params: FetcherParams, opts?: { headers?: Record<string, unknown> }) => {
    const current = storedApiKey();
    const res = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...((opts?.headers ?? {}) as Record<string, string>),
        ...(current ? { authorization: `Bearer ${current}` } : {}),
      },
      body: JSON.stringify(params),
    });
    return res.json();
  };
  return (
    <div className="ide">
      <header className="ide-bar">
        <a href="/admin/">← Admin dashboard</a>
        <form
          onSubmit={(e) => {
            e.preventDefault();
          }}
        >
          <label htmlFor="ide-key">API key</label>
          <input
            id="ide-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={key}
            placeholder="sent as Authorization: Bearer …"
            onChange={(e) => {
              setKey(e.target.value);
              storeApiKey(e.target.value.trim());
            }}
          />
        </form>
        <span className="muted">Kept in this tab only (session storage).</span>
      </header>
      <div className="ide-main">
        <GraphiQL fetcher={fetcher as never} defaultQuery={defaultQuery} shouldPersistHeaders={false} />
      </div>
    </div>
  );
}

// GraphiQL renders each editor tab as <li role="tab"><button>…</button></li>: a button inside a
// tab (axe: nested-interactive). The standard pattern puts the tab role on the button itself, with
// the list item presentational; applied to every tab GraphiQL adds or re-renders.
function tabsOnTheirButtons(root: ParentNode): void {
  for (const li of root.querySelectorAll<HTMLLIElement>('.graphiql-tabs li[role="tab"]')) {
    const button = li.querySelector<HTMLButtonElement>('button.graphiql-tab-button');
    if (!button) continue;
    button.setAttribute('role', 'tab');
    button.setAttribute('aria-selected', li.getAttribute('aria-selected') ?? 'false');
    li.setAttribute('role', 'presentation');
    li.removeAttribute('aria-selected');
  }
}
new MutationObserver(() => tabsOnTheirButtons(document)).observe(document.getElementById('root')!, {
  subtree: true,
  childList: true,
  attributes: true,
  attributeFilter: ['role', 'aria-selected'],
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Ide />
  </StrictMode>,
);
