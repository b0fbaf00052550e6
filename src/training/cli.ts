// `npm run train` — trains the three models on the configured database (embedded PGlite or
// DATABASE_URL) and writes a new version of each into MODELS_DIR:
//   1. export paid orders and customers into a temporary folder (export.ts: COPY on PostgreSQL),
//      through commandDatabase() like every command — so it works while a server owns DATA_DIR;
//   2. python-export/train.py trains, evaluates on held-out customers against the baselines and
//      writes models/<name>/<next version>/ with the quality gate's verdict in the card;
//   3. each version that passes the gate is promoted (a "ModelPromotion" row, logged); the others stay
//      candidates, and the reason is printed. Running servers switch within MODELS_POLL_SECONDS.
// `npm run train -- --demo` retrains the shipped version 1 from the demo data, as before.
// Exit codes: 0 trained, 1 failed, 2 usage error, 3 refused (not enough data; the message says what is missing).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { commandDatabase, openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { recordPromotion } from '../models/promotions.js';
import { describeDatabase, exportTrainingData } from './export.js';

const PYTHON = '/usr/bin/python3';
const USAGE = `Usage: npm run train -- [--horizon-days N] [--models xgboost,logistic,transformer] [--min-customers N]
                          [--high-value-by auto|spend|orders] [--no-promote] [--quick]
       npm run train -- --demo            retrain the shipped version 1 from the synthetic demo data
  --horizon-days N     days after the scoring time the segments look at (default 90)
  --models LIST        which models to train (default all three: xgboost,logistic,transformer; the
                       Transformer takes most of the time — minutes per epoch on large logs —
                       so --models xgboost,logistic is the quick choice)
  --high-value-by X    spend: high_value = spends at least a threshold in the horizon; orders: places
                       at least K paid orders; auto (default): spend when every paid order in the
                       label windows has an amount, else orders (logs imported with --no-amounts)
  --min-customers N    refuse with fewer customers having a paid order before the test cutoff (default 500)
  --no-promote         write candidates only; promote by hand with npm run models -- promote <name> <version>
  --quick              small model settings (tests, trying things out)
  --keep-export DIR    also keep the exported CSV files in DIR
  --shuffle-labels     train on permuted labels (to see the quality gate refuse a model that learned nothing)`;

class UsageError extends Error {}

interface TrainResult {
  out: string;
  seconds: number;
  models: Record<
    string,
    {
      version: string;
      dir: string;
      kind: string;
      log_loss: number;
      seconds: number;
      high_value?: { value: number; unit: 'orders' | 'currency'; why: string };
      gate: { passed: boolean; reasons: string[] } | null;
    }
  >;
}

export const EXIT_REFUSED = 3;

function python(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    // Progress lines go straight to the terminal.
    const child = spawn(PYTHON, ['-u', 'python-export/train.py', ...args], {
      stdio: 'inherit',
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 130 : 1)));
  });
}

function checkPython(): void {
  const r = spawnSync(PYTHON, ['-c', 'import numpy, pandas, sklearn, xgboost, torch, onnx'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `${PYTHON} lacks the training packages (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}); run python-export/install-deps.sh`,
    );
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      demo: { type: 'boolean' },
      'horizon-days': { type: 'string' },
      models: { type: 'string' },
      'min-customers': { type: 'string' },
      'no-promote': { type: 'boolean' },
      quick: { type: 'boolean' },
      'keep-export': { type: 'string' },
      'shuffle-labels': { type: 'boolean' },
      'high-value-by': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const horizon = values['horizon-days'] ?? '90';
  if (!/^\d+$/.test(horizon) || Number(horizon) < 1 || Number(horizon) > 3650)
    throw new UsageError(`--horizon-days must be an integer from 1 to 3650 (got ${JSON.stringify(horizon)})`);
  const minCustomers = values['min-customers'] ?? '500';
  if (!/^\d+$/.test(minCustomers)) throw new UsageError(`--min-customers must be a non-negative integer (got ${JSON.stringify(minCustomers)})`);
  const models = values.models ?? 'xgboost,logistic,transformer';
  if (!/^(xgboost|logistic|transformer)(,(xgboost|logistic|transformer))*$/.test(models))
    throw new UsageError(`--models must list xgboost, logistic, transformer (got ${JSON.stringify(models)})`);
  const highValueBy = values['high-value-by'] ?? 'auto';
  if (!['auto', 'spend', 'orders'].includes(highValueBy))
    throw new UsageError(`--high-value-by must be auto, spend or orders (got ${JSON.stringify(highValueBy)})`);
  checkPython();

  const cfg = loadConfig();
  if (values.demo) return python(['--demo', '--out', cfg.MODELS_DIR, ...(values['horizon-days'] ? ['--horizon-days', horizon] : []), '--models', models]);

  const log = pino({ level: cfg.LOG_LEVEL === 'silent' ? 'silent' : 'info' }, pino.destination(2));
  const tty = process.stderr.isTTY;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  // Like every command: DATABASE_URL, else the embedded DATA_DIR — through the running server's
  // socket (which serves one command at a time), or owned for the moment. The database is held only
  // while exporting and while recording promotions, never during the minutes of training, so other
  // commands (import, score, models) are not kept waiting and the server keeps serving meanwhile.
  const open = () => openDatabase(commandDatabase(cfg, 'npm run train'));
  const kinds = models.split(',');
  say(
    `npm run train: ${kinds.join(', ')} on ${describeDatabase(cfg.DATABASE_URL, cfg.dataDir)}, horizon ${horizon} days` +
      (kinds.includes('transformer') ? ' (the Transformer takes most of the time; --models xgboost,logistic skips it)' : ''),
  );
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'cia-train-'));
  try {
    let source;
    const db = await open();
    try {
      if (db.access === 'owner-socket') say(`using the database of the running server (its socket)`);
      await applyMigrations(db.adapterFactory);
      source = await exportTrainingData(db, {
        databaseUrl: cfg.DATABASE_URL,
        dataDir: cfg.dataDir,
        dir: tmp,
        onProgress: say,
      });
    } finally {
      await db.close();
    }
    say(
      `exported ${source.customers.toLocaleString('en-US')} customers, ${source.paid_orders.toLocaleString('en-US')} paid orders ` +
        `(${source.first_order?.slice(0, 10) ?? '–'} .. ${source.last_order?.slice(0, 10) ?? '–'}) from ${source.database} in ${source.export_seconds} s` +
        (source.paid_orders_without_amount > 0
          ? `; ${source.paid_orders_without_amount.toLocaleString('en-US')} of them without amount (imported with --no-amounts)`
          : ''),
    );
    if (values['keep-export']) {
      for (const f of source.files) await writeFile(path.join(values['keep-export'], f.path), await readFile(path.join(tmp, f.path)));
    }
    await writeFile(path.join(tmp, 'source.json'), JSON.stringify(source, null, 2));
    const command = `npm run train -- ${process.argv.slice(2).join(' ')}`.trim();
    const code = await python([
      '--data',
      tmp,
      '--horizon-days',
      horizon,
      '--models',
      models,
      '--min-customers',
      minCustomers,
      '--out',
      cfg.MODELS_DIR,
      '--version',
      'next',
      '--source-json',
      path.join(tmp, 'source.json'),
      '--result-json',
      path.join(tmp, 'result.json'),
      '--command',
      command,
      '--high-value-by',
      highValueBy,
      ...(values.quick ? ['--quick'] : []),
      ...(values['shuffle-labels'] ? ['--shuffle-labels'] : []),
    ]);
    if (code === EXIT_REFUSED) return EXIT_REFUSED; // the pipeline said what is missing
    if (code === 2) return 2; // e.g. --high-value-by spend on a log without amounts: the pipeline said why
    if (code !== 0) throw new Error(`training failed (python-export/train.py exited with ${code})`);

    const result = JSON.parse(await readFile(path.join(tmp, 'result.json'), 'utf8')) as TrainResult;
    say('');
    const first = Object.values(result.models)[0];
    if (first?.high_value) {
      const hv = first.high_value;
      say(
        `high_value: ${hv.unit === 'orders' ? `places at least ${hv.value} paid orders` : `spends at least ${hv.value.toFixed(2)} ${source.currency ?? ''}`.trimEnd()} in the next ${horizon} days (${hv.why})`,
      );
    }
    for (const [name, m] of Object.entries(result.models))
      say(`${name} version ${m.version}: trained in ${m.seconds} s, held-out log loss ${m.log_loss.toFixed(4)}`);
    const db2 = await open();
    try {
      for (const [name, m] of Object.entries(result.models)) {
        const passed = m.gate?.passed === true;
        if (passed && !values['no-promote']) {
          const row = await recordPromotion(db2, {
            model: name,
            version: m.version,
            promotedBy: 'quality gate (npm run train)',
            reason: m.gate!.reasons.join('; '),
          });
          log.info(
            {
              event: 'model.promoted',
              model: name,
              version: m.version,
              promotedBy: row.promotedBy,
              promotionId: row.id,
            },
            `model ${name} version ${m.version} promoted`,
          );
          say(`${name} version ${m.version}: PROMOTED — ${m.gate!.reasons.join('; ')}`);
        } else {
          const why = passed ? 'passes the quality gate, but --no-promote was given' : `stays a candidate — ${m.gate?.reasons.join('; ') ?? 'no gate verdict'}`;
          say(`${name} version ${m.version}: ${why}. Promote by hand: npm run models -- promote ${name} ${m.version}`);
        }
      }
    } finally {
      await db2.close();
    }
    say(`trained in ${result.seconds} s; running servers pick up promotions within MODELS_POLL_SECONDS (${cfg.MODELS_POLL_SECONDS} s).`);
    if (tty) say('');
    return 0;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err instanceof UsageError ? `${err.message}\n\n${USAGE}` : err.message);
    process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
