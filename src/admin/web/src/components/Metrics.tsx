// A model card's held-out metrics, beside its baselines when the API serves them, and the
// confusion matrix from the evaluation (rows: true class, columns: predicted).
const headline = ['accuracy', 'macro_f1', 'log_loss', 'ece', 'roc_auc_ovr_macro'] as const;
const labels: Record<string, string> = {
  accuracy: 'Accuracy',
  macro_f1: 'Macro F1',
  log_loss: 'Log loss (lower is better)',
  ece: 'Calibration error, ECE (lower is better)',
  roc_auc_ovr_macro: 'ROC AUC (one-vs-rest, macro)',
};

const asNumber = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function MetricsTable({ metrics, baselines, caption }: { metrics: Record<string, unknown>; baselines?: Record<string, unknown> | null; caption: string }) {
  const names = headline.filter((k) => asNumber(metrics[k]) !== null);
  // Baselines: { name: { accuracy: …, … } } — each is a column.
  const baseCols = Object.entries(baselines ?? {}).filter(([, v]) => v && typeof v === 'object') as [string, Record<string, unknown>][];
  if (!names.length) return <p className="muted">The model card has no held-out metrics.</p>;
  return (
    <table className="metrics">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Metric</th>
          <th scope="col">Model</th>
          {baseCols.map(([name]) => (
            <th scope="col" key={name}>
              Baseline: {name.replace(/_/g, ' ')}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {names.map((k) => (
          <tr key={k}>
            <th scope="row">{labels[k]}</th>
            <td className="num">{asNumber(metrics[k])!.toFixed(3)}</td>
            {baseCols.map(([name, b]) => (
              <td className="num" key={name}>
                {asNumber(b[k])?.toFixed(3) ?? '—'}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
      {asNumber(metrics.n) !== null && (
        <tfoot>
          <tr>
            <td colSpan={2 + baseCols.length} className="muted">
              {String(metrics.n)} held-out customers
            </td>
          </tr>
        </tfoot>
      )}
    </table>
  );
}

export function ConfusionMatrix({ matrix, classes }: { matrix: unknown; classes: string[] }) {
  if (!Array.isArray(matrix) || matrix.length !== classes.length || !matrix.every((r) => Array.isArray(r) && r.length === classes.length)) return null;
  const rows = matrix as number[][];
  const max = Math.max(1, ...rows.flat());
  return (
    <table className="confusion">
      <caption>Confusion matrix on the held-out customers (rows: actual segment, columns: predicted)</caption>
      <thead>
        <tr>
          <td />
          {classes.map((c) => (
            <th scope="col" key={c}>
              predicted {c.replace(/_/g, ' ')}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={classes[i]}>
            <th scope="row">actual {classes[i]!.replace(/_/g, ' ')}</th>
            {r.map((v, j) => {
              // From #eff6ff (0) to #93c5fd (the largest cell): light enough for dark text throughout.
              const shade = v / max;
              const mix = (a: number, b: number) => Math.round(a + (b - a) * shade);
              return (
                <td key={j} className="num" style={{ background: `rgb(${mix(0xef, 0x93)}, ${mix(0xf6, 0xc5)}, ${mix(0xff, 0xfd)})` }}>
                  {v}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
