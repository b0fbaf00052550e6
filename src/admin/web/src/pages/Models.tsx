// Models: every loaded version of every model with its status, held-out metrics beside the
// baselines, and the quality gate's verdict (all typed fields of Query.models); the last batch-scoring
// run of each model with live progress (polled while it runs); promotion of a version (admin only,
// after a confirmation dialog).
import { useEffect, useRef, useState } from 'react';
import { ApiError, request } from '../api';
import { ErrorMessage, Loading } from '../components/Status';
import { ago, dateTime, int, num } from '../format';
import { LastRunDocument, ModelListDocument, PromoteModelDocument, type ModelListQuery } from '../generated/graphql';
import { useSession } from '../sessionContext';
import { useQuery } from '../useQuery';

type Model = ModelListQuery['models'][number];

const asNum = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const metric = (m: Record<string, unknown>, k: string) => num(asNum(m[k]));

interface Gate {
  passed?: boolean;
  reasons?: string[];
  criterion?: string;
}

/** "majority 0.912, rfm 0.640": a metric of each baseline in the card. */
function baselineLine(baselines: Record<string, unknown>, k: string): string | null {
  const parts = Object.entries(baselines)
    .map(([name, b]) => [name, asNum((b as Record<string, unknown> | null)?.[k])] as const)
    .filter(([, v]) => v !== null)
    .map(([name, v]) => `${name.replace(/_/g, ' ')} ${v!.toFixed(3)}`);
  return parts.length ? parts.join(', ') : null;
}

export function Models() {
  const { role } = useSession();
  const { data, error, loading, reload } = useQuery(ModelListDocument, {});
  const [confirming, setConfirming] = useState<Model | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Promotion is an admin action: other roles never see the button (the API refuses them anyway).
  const promotable = role === 'admin';

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
          <caption className="muted small">
            Every loaded version (models/&lt;name&gt;/&lt;version&gt;/). Metrics: the model card&apos;s, on held-out customers; baselines on the same customers. Log loss: lower is better.
          </caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">Trained</th>
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
              const gate = m.gate as Gate | null;
              const training = m.trainingData as { name?: string; customers?: number };
              const baseLoss = baselineLine(m.baselines, 'log_loss');
              const baseAccuracy = baselineLine(m.baselines, 'accuracy');
              return (
                <tr key={`${m.name}@${m.version}`} data-model={m.name} data-version={m.version} data-status={m.status}>
                  <th scope="row">
                    <code>{m.name}</code>
                    <div className="muted small">
                      {m.kind}: {m.classes.map((c) => c.key).join(', ')}
                    </div>
                  </th>
                  <td>{m.version}</td>
                  <td data-testid="model-status">
                    <span className={`badge ${m.status}`}>{m.status}</span>
                    {m.isDefault && <div className="muted small">default model</div>}
                  </td>
                  <td className="small">
                    {m.created ? dateTime(m.created) : '—'}
                    <div className="muted">
                      {training.name ?? 'unnamed data'}
                      {typeof training.customers === 'number' ? `, ${int(training.customers)} customers` : ''}
                    </div>
                  </td>
                  <td className="num">
                    {metric(m.metrics, 'accuracy')}
                    {baseAccuracy && <div className="muted small">{baseAccuracy}</div>}
                  </td>
                  <td className="num">{metric(m.metrics, 'macro_f1')}</td>
                  <td className="num" data-testid="log-loss">
                    {metric(m.metrics, 'log_loss')}
                    {baseLoss && <div className="muted small">baselines: {baseLoss}</div>}
                  </td>
                  <td data-testid="gate">
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
                      <span className="muted small">not recorded (shipped version)</span>
                    )}
                  </td>
                  <td className="small">
                    {m.executionProvider}, {m.explanationMethod}
                    <div className="muted">loaded {dateTime(m.loadedAt)}</div>
                  </td>
                  {promotable && (
                    <td>
                      {m.status !== 'promoted' && (
                        <button type="button" onClick={() => setConfirming(m)} data-testid="promote" aria-label={`Promote ${m.name} version ${m.version}`}>
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
      {!promotable && <p className="muted small">Promoting a model version is for admin keys.</p>}
      {confirming && (
        <ConfirmPromotion
          model={confirming}
          onClose={() => setConfirming(null)}
          onDone={(msg) => {
            setConfirming(null);
            setNotice(msg);
            reload();
          }}
        />
      )}
      {names.length > 0 && (
        <section className="card" aria-labelledby="runs-heading">
          <h2 id="runs-heading">Batch scoring</h2>
          <p className="muted small">The latest run per model (npm run score, or the refresh after a promotion); progress refreshes every 2 s while a run is running.</p>
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
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
    // The safe choice first: showModal focuses the first button (Promote), and React's autoFocus
    // is not an attribute the dialog sees.
    cancel.current?.focus();
  }, []);
  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      const res = await request(PromoteModelDocument, { name: model.name, version: model.version });
      onDone(`${res.promoteModel.name} ${res.promoteModel.version} is now ${res.promoteModel.status}.`);
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
      {(model.gate as Gate | null)?.passed === false && (
        <p className="warning" role="note">
          This version failed the quality gate at training time: {((model.gate as Gate).reasons ?? []).join('; ')}
        </p>
      )}
      {error && <ErrorMessage error={error} />}
      <div className="actions">
        <button type="button" onClick={confirm} disabled={busy} data-testid="confirm-promote">
          {busy ? 'Promoting…' : 'Promote'}
        </button>
        <button type="button" className="secondary" onClick={() => dialog.current?.close()} ref={cancel}>
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
  // Live progress: poll while the run is running (the interval stops when it finishes).
  useEffect(() => {
    if (!running) return;
    const t = setInterval(reload, 2000);
    return () => clearInterval(t);
  }, [running, reload]);
  if (!data) return <Loading what={`the runs of ${model}`} />;
  const total = data.segmentSummary.customersTotal;
  return (
    <div className="run" data-model={model} data-status={run?.status ?? 'none'} data-scored={run?.customersScored ?? 0} data-run={run?.id ?? ''}>
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
