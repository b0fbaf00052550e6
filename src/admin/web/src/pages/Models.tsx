// Models: every served model (and version, status, baselines and quality gate when the API has
// them), the last batch-scoring run of each with live progress, and promotion (admin only, after a
// confirmation) when the API has promoteModel.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api';
import { ErrorMessage, Loading } from '../components/Status';
import { ago, dateTime, int, num } from '../format';
import { LastRunDocument, ModelListDocument, type ModelListQuery } from '../generated/graphql';
import { canPromote, extrasOf, modelExtras, promote, type ModelExtras } from '../optional';
import { useSession } from '../sessionContext';
import { useQuery } from '../useQuery';

type Model = ModelListQuery['models'][number];

const metric = (m: Record<string, unknown>, k: string) => (typeof m[k] === 'number' ? num(m[k] as number) : '—');

export function Models() {
  const { role } = useSession();
  const { data, error, loading, reload } = useQuery(ModelListDocument, {});
  const [extras, setExtras] = useState<Map<string, ModelExtras>>();
  const [promotable, setPromotable] = useState(false);
  const [confirming, setConfirming] = useState<Model | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const loadExtras = useCallback(() => modelExtras().then(setExtras, () => setExtras(new Map())), []);
  useEffect(() => {
    void loadExtras();
    // Promotion is an admin action: other roles never see the button (the API refuses them anyway).
    if (role === 'admin') canPromote().then(setPromotable, () => setPromotable(false));
  }, [role, loadExtras]);

  const names = [...new Set(data?.models.map((m) => m.name) ?? [])];

  return (
    <>
      <h1 tabIndex={-1}>Models</h1>
      {loading && !data && <Loading what="the models" />}
      {error && <ErrorMessage error={error} />}
      {notice && (
        <p className="notice" role="status" data-testid="promote-notice">
          {notice}
        </p>
      )}
      {data && (
        <table className="list" data-testid="model-table">
          <caption className="sr-only">Served models</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">Kind</th>
              <th scope="col">Accuracy</th>
              <th scope="col">Macro F1</th>
              <th scope="col">Log loss</th>
              <th scope="col">Quality gate</th>
              <th scope="col">Runtime</th>
              {promotable && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {data.models.map((m) => {
              const x = extrasOf(extras, m.name, m.version);
              const status = x.status ?? (m.isDefault ? 'default' : 'served');
              const gate = x.gate as { passed?: boolean; reasons?: string[] } | null | undefined;
              return (
                <tr key={`${m.name}@${m.version}`} data-model={m.name} data-version={m.version}>
                  <th scope="row">
                    <code>{m.name}</code>
                    <div className="muted small">{m.classes.map((c) => c.key).join(', ')}</div>
                  </th>
                  <td>{m.version}</td>
                  <td data-testid="model-status">
                    <span className={`badge ${status}`}>{status}</span>
                  </td>
                  <td>{m.kind}</td>
                  <td className="num">{metric(m.metrics, 'accuracy')}</td>
                  <td className="num">{metric(m.metrics, 'macro_f1')}</td>
                  <td className="num">{metric(m.metrics, 'log_loss')}</td>
                  <td>
                    {gate ? (
                      <>
                        <span className={`badge ${gate.passed ? 'promoted' : 'failed'}`}>{gate.passed ? 'passed' : 'failed'}</span>
                        {gate.reasons?.map((r) => (
                          <div className="muted small" key={r}>
                            {r}
                          </div>
                        ))}
                      </>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td className="small">
                    {m.executionProvider}, {m.explanationMethod}
                    <div className="muted">loaded {dateTime(m.loadedAt)}</div>
                  </td>
                  {promotable && (
                    <td>
                      {x.status !== 'promoted' && (
                        <button type="button" onClick={() => setConfirming(m)} data-testid="promote">
                          Promote…
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {role !== 'admin' && <p className="muted small">Promoting a model version is for admin keys.</p>}
      {confirming && (
        <ConfirmPromotion
          model={confirming}
          onClose={() => setConfirming(null)}
          onDone={(msg) => {
            setConfirming(null);
            setNotice(msg);
            reload();
            void loadExtras();
          }}
        />
      )}
      {names.length > 0 && (
        <section className="card" aria-labelledby="runs-heading">
          <h2 id="runs-heading">Batch scoring</h2>
          <p className="muted small">The latest run per model (npm run score); progress refreshes while a run is running.</p>
          {names.map((n) => (
            <RunProgress key={n} model={n} />
          ))}
        </section>
      )}
    </>
  );
}

function ConfirmPromotion({ model, onClose, onDone }: { model: Model; onClose(): void; onDone(msg: string): void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await promote(model.name, model.version);
      onDone(`${model.name} ${model.version} is now promoted.`);
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  }
  return (
    <dialog ref={dialog} onClose={onClose} aria-labelledby="confirm-title" className="confirm">
      <h2 id="confirm-title">
        Promote {model.name} {model.version}?
      </h2>
      <p>Every server sharing this database will serve this version for queries that name no version. Stored scores are refreshed afterwards.</p>
      {error && <ErrorMessage error={error} />}
      <div className="actions">
        <button type="button" onClick={confirm} disabled={busy} data-testid="confirm-promote">
          {busy ? 'Promoting…' : 'Promote'}
        </button>
        <button type="button" className="secondary" onClick={() => dialog.current?.close()} autoFocus>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

function RunProgress({ model }: { model: string }) {
  const { data, reload } = useQuery(LastRunDocument, { model });
  const run = data?.segmentSummary.lastRun;
  const running = run?.status === 'running';
  useEffect(() => {
    if (!running) return;
    const t = setInterval(reload, 2000);
    return () => clearInterval(t);
  }, [running, reload]);
  if (!data) return <Loading what={`the runs of ${model}`} />;
  const total = data.segmentSummary.customersTotal;
  return (
    <div className="run" data-model={model}>
      <code>{model}</code>:{' '}
      {run ? (
        <>
          run #{run.id} {run.status} — {int(run.customersScored)} of {int(total)} customers, version {run.modelVersion}, as of {dateTime(run.asOf)}, {run.finishedAt ? `finished ${ago(run.finishedAt)}` : `last progress ${ago(run.updatedAt)}`}
          <progress max={total || 1} value={Math.min(run.customersScored, total)} aria-label={`Scoring progress of ${model}`} />
        </>
      ) : (
        <span className="muted">never scored</span>
      )}
    </div>
  );
}
