// Start-up checks of the served models: a damaged or mismatched model folder stops start-up with a
// message naming the file and the problem; CUDA falls back to CPU unless the setting is strict.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../src/inference/registry.js';
import { createScoring } from '../src/scoring/setup.js';
import { testConfig } from './helpers/server.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const silent = pino({ level: 'silent' });

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'cia-models-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** A copy of the shipped models with one change applied. */
async function damaged(name: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = path.join(scratch, name);
  await cp(path.join(root, 'models'), dir, { recursive: true });
  await change(dir);
  return dir;
}

const editJson = async (file: string, edit: (json: any) => void) => {
  const json = JSON.parse(await readFile(file, 'utf8'));
  edit(json);
  await writeFile(file, JSON.stringify(json, null, 2));
};

const loadError = async (modelsDir: string, env: Record<string, string> = {}) => {
  try {
    const scoring = await createScoring(testConfig({ MODELS_DIR: modelsDir, ...env }), silent);
    await scoring.close();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected start-up to fail');
};

describe('model registry start-up checks', () => {
  it('loads the shipped models, one session each, warmed up', async () => {
    const scoring = await createScoring(testConfig(), silent);
    try {
      const names = scoring.inference.registry.list().map((m) => m.name).sort();
      expect(names).toEqual(['logistic-segment', 'transformer-segment', 'xgboost-segment']);
    } finally {
      await scoring.close();
    }
  });

  it.each<[string, (dir: string) => Promise<void>, RegExp]>([
    ['a model file replaced by garbage', (d) => writeFile(path.join(d, 'xgboost-segment/1/model.onnx'), 'not a model'), /xgboost-segment\/1\/model\.onnx: sha256 is .* the card declares/],
    [
      'garbage with a matching hash',
      async (d) => {
        await writeFile(path.join(d, 'logistic-segment/1/model.onnx'), 'not a model');
        await editJson(path.join(d, 'logistic-segment/1/model.json'), (c) => (c.onnx.sha256 = createHash('sha256').update('not a model').digest('hex')));
      },
      /logistic-segment\/1\/model\.onnx: ONNX Runtime cannot load it/,
    ],
    ['a missing model file', (d) => rm(path.join(d, 'transformer-segment/1/model.onnx')), /transformer-segment\/1\/model\.onnx: cannot read the model file/],
    ['a card declaring another input', (d) => editJson(path.join(d, 'xgboost-segment/1/model.json'), (c) => (c.onnx.inputs[0].name = 'x')), /xgboost-segment\/1\/model\.onnx: inputs are \[features\], the card declares \[x\]/],
    ['a card declaring another shape', (d) => editJson(path.join(d, 'xgboost-segment/1/model.json'), (c) => (c.onnx.inputs[0].shape = ['N', 26])), /input "features" is float32\[N,27\], the card declares float32\[N,26\]/],
    ['a card with features in another order', (d) => editJson(path.join(d, 'logistic-segment/1/model.json'), (c) => c.features.ordered.reverse()), /logistic-segment\/1\/model\.json: feature 0 is "is_female" but the service computes "recency_days"/],
    ['a feature spec the service does not compute', (d) => editJson(path.join(d, 'xgboost-segment/1/features.json'), (s) => (s.features[0].name = 'recency_weeks')), /xgboost-segment\/1\/features\.json: the feature spec differs/],
    ['a card that is not JSON', (d) => writeFile(path.join(d, 'xgboost-segment/1/model.json'), '{'), /xgboost-segment\/1\/model\.json: not valid JSON/],
  ])('refuses %s, naming the file and the problem', async (name, change, message) => {
    const err = await loadError(await damaged(name.replace(/\W+/g, '-'), change));
    expect(err).toBeInstanceOf(ModelLoadError);
    expect(err.message).toMatch(message);
  });

  it('refuses a DEFAULT_MODEL that is not served', async () => {
    const err = await loadError(path.join(root, 'models'), { DEFAULT_MODEL: 'nope' });
    expect(err.message).toMatch(/DEFAULT_MODEL "nope" is not among the models/);
  });
});

describe('execution providers', () => {
  it('falls back from CUDA to CPU with one log line, and reports the provider in use', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
    const scoring = await createScoring(testConfig({ ORT_EXECUTION_PROVIDERS: 'cuda,cpu' }), log);
    try {
      const providers = new Set(scoring.inference.registry.list().map((m) => m.provider));
      const fallbacks = lines.filter((l) => l.includes('falling back to cpu'));
      if (providers.has('cuda')) {
        expect(fallbacks).toHaveLength(0); // a GPU host: CUDA is used
      } else {
        expect([...providers]).toEqual(['cpu']);
        expect(fallbacks).toHaveLength(1);
      }
    } finally {
      await scoring.close();
    }
  });

  it('fails start-up when CUDA is required but unavailable (strict setting)', async (ctx) => {
    const err = await loadError(path.join(root, 'models'), { ORT_EXECUTION_PROVIDERS: 'cuda' }).catch(() => null);
    if (!err) return ctx.skip(); // a GPU host: CUDA works, nothing to refuse
    expect(err.message).toMatch(/^No execution provider of ORT_EXECUTION_PROVIDERS=cuda could be used \(cuda: /);
  });

  it('a real `npm start` with a damaged model exits 1 with a one-line reason and no stack trace', async () => {
    const dir = await damaged('process', (d) => writeFile(path.join(d, 'xgboost-segment/1/model.onnx'), 'garbage'));
    const result = await run('npx', ['tsx', 'src/main.ts'], {
      cwd: root,
      env: { ...process.env, MODELS_DIR: dir, ORT_EXECUTION_PROVIDERS: 'cpu', DATA_DIR: path.join(scratch, 'db'), PORT: '0' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/xgboost-segment\/1\/model\.onnx: sha256 is/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
