// The model repository, in Triton's layout: MODELS_DIR/<name>/<version>/{model.onnx, model.json,
// features.json, golden.json}, version = a positive integer folder name. Every version is loaded
// once and checked against its card — file hash, declared inputs and outputs, the feature list —
// then warmed up with one inference. Any mismatch stops start-up with a ModelLoadError that names
// the file and the problem. One InferenceSession per model version per process; all versions stay
// loaded, so requests can name any of them and in-flight requests finish on the session they
// started with when another version is promoted. `refresh()` loads versions that appeared since.
//
// Which version is served by default (the *promoted* one) is decided outside the files (the
// "ModelPromotion" table, src/models/); without a promotion on record it is the oldest version
// whose card does not record a failed quality gate (the shipped version 1).
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { firstLine, type ProviderName, type ProviderSelector } from './providers.js';
import { buildFeeds, splitProbabilities, type FeedLayout, type ModelRow } from './tensors.js';
import { decisionRuleOf } from '../scoring/decision.js';

export interface IoDecl {
  name: string;
  type: string;
  shape: (string | number)[];
}

export interface ModelCard {
  name: string;
  version: string;
  kind: 'xgboost' | 'logistic' | 'transformer' | string;
  description?: string;
  created?: string;
  classes: { key: string; index: number; definition: string }[];
  features: { spec_file?: string; ordered: string[] };
  onnx: { file: string; sha256: string; inputs: IoDecl[]; outputs: IoDecl[]; opset?: Record<string, number> };
  metrics_held_out?: Record<string, unknown>;
  high_value_threshold?: { value: number };
  sequence?: { max_orders: number; token_features: { name: string }[] };
  [key: string]: unknown;
}

export interface LoadedModel {
  name: string;
  version: string;
  /** sha256 (hex) of the served ONNX file, computed once at load. */
  sha256: string;
  /**
   * `name@version#sha256`: what a cached answer of this model is keyed on. Name and version alone
   * collide (every shipped model is 1.0.0, and a retrained file may keep its version); the file's
   * hash cannot. Every cache of model outputs keys on this one field.
   */
  identity: string;
  kind: string;
  card: ModelCard;
  dir: string;
  classes: string[];
  featureNames: string[];
  layout: FeedLayout;
  onnxBytes: Uint8Array;
  session: ort.InferenceSession;
  provider: ProviderName;
  /** The options `session` was created with (provider included): the inference thread's session of this version uses them too. */
  sessionOptions: ort.InferenceSession.SessionOptions;
  loadedAt: Date;
}

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
  }
}

export interface RegistryOptions {
  dir: string;
  providers: ProviderSelector;
  /** Throws when a model's feature spec (features.json) is not what the service computes. */
  checkFeatureSpec: (spec: unknown) => void;
  /** Ordered feature names the service computes. */
  featureNames: readonly string[];
}

export type ModelStatus = 'candidate' | 'promoted' | 'retired';

/** A promotion on record, newest last (from the "ModelPromotion" table). */
export interface PromotionRecord {
  model: string;
  version: string;
}

export interface PromotionChange {
  name: string;
  from: string | undefined;
  to: string;
}

/** Folder names that are versions: positive integers without leading zeros (Triton's convention). */
export const isVersionFolder = (name: string) => /^[1-9]\d{0,8}$/.test(name);

/** The card's own record of the quality gate at training time (absent on hand-made models). */
export function gatePassed(card: ModelCard): boolean {
  const gate = card.gate as { passed?: unknown } | undefined;
  return gate?.passed !== false;
}

/**
 * The promoted version of one model among the versions available: the newest promotion on record
 * naming one of them; without one, the oldest version whose card does not record a failed gate (the
 * shipped version 1) — a newer version is served only once it is promoted, never because its files
 * appeared (a run with --no-promote, or one whose promotion is still being written).
 */
export function choosePromoted(name: string, available: ReadonlyMap<string, ModelCard>, records: readonly PromotionRecord[]): string {
  const history = records.filter((r) => r.model === name && available.has(r.version));
  const promoted = history.at(-1)?.version;
  if (promoted !== undefined) return promoted;
  const eligible = [...available].filter(([, card]) => gatePassed(card)).map(([v]) => v);
  return (eligible.length ? eligible : [...available.keys()]).sort((a, b) => Number(a) - Number(b))[0];
}

/**
 * promoted: the version served by default; retired: promoted before, or older than the promoted
 * one (superseded without ever being served); candidate: newer than the promoted one and never promoted.
 */
export function statusOf(version: string, promoted: string, everPromoted: ReadonlySet<string>): ModelStatus {
  if (version === promoted) return 'promoted';
  return everPromoted.has(version) || Number(version) < Number(promoted) ? 'retired' : 'candidate';
}

export class ModelRegistry {
  /** name → version → model. */
  private readonly models = new Map<string, Map<string, LoadedModel>>();
  /** name → promoted version. */
  private readonly promoted = new Map<string, string>();
  /** Versions promoted once and since replaced. */
  private readonly retired = new Map<string, Set<string>>();
  private refreshing: Promise<LoadedModel[]> | null = null;

  private constructor(private readonly options: RegistryOptions) {}

  static async load(options: RegistryOptions): Promise<ModelRegistry> {
    const registry = new ModelRegistry(options);
    await registry.scan(true);
    if (registry.models.size === 0) {
      throw new ModelLoadError(path.resolve(options.dir), 'no model found (expected <name>/<version>/model.json, e.g. xgboost-segment/1/model.json)');
    }
    registry.applyPromotions([]);
    return registry;
  }

  /**
   * Loads versions that appeared since the last scan (a new training run). A version folder is
   * written under a temporary name and renamed when complete, so a half-written one is never seen.
   * A version that fails to load is reported through `onError` and skipped (the server keeps serving).
   */
  refresh(onError?: (err: Error) => void): Promise<LoadedModel[]> {
    this.refreshing ??= this.scan(false, onError).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private readonly failed = new Set<string>();

  private async scan(strict: boolean, onError?: (err: Error) => void): Promise<LoadedModel[]> {
    const dir = path.resolve(this.options.dir);
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: Error) => {
      throw new ModelLoadError(dir, `cannot read the models folder (${firstLine(err)})`);
    });
    const added: LoadedModel[] = [];
    for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
      const nameDir = path.join(dir, entry.name);
      const versions = (await readdir(nameDir, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && isVersionFolder(e.name))
        .map((e) => e.name)
        .sort((a, b) => Number(a) - Number(b));
      for (const version of versions) {
        if (this.models.get(entry.name)?.has(version)) continue;
        const folder = path.join(nameDir, version);
        if (this.failed.has(folder)) continue;
        const cardFile = path.join(folder, 'model.json');
        const card = await readFile(cardFile, 'utf8').catch(() => null);
        if (card === null) continue; // not a model folder
        try {
          const model = await loadModel(folder, cardFile, card, this.options);
          if (model.name !== entry.name) throw new ModelLoadError(rel(cardFile), `the card names "${model.name}", the folder "${entry.name}"`);
          if (model.version !== version) throw new ModelLoadError(rel(cardFile), `the card says version "${model.version}", the folder "${version}"`);
          let byVersion = this.models.get(model.name);
          if (!byVersion) this.models.set(model.name, (byVersion = new Map()));
          byVersion.set(version, model);
          added.push(model);
        } catch (err) {
          if (strict || (err as Error).name === 'ProviderUnavailableError') throw err;
          this.failed.add(folder); // reported once, not on every poll
          onError?.(err as Error);
        }
      }
    }
    return added;
  }

  /**
   * Decides the promoted version of every model from the promotions on record (oldest first): the
   * latest one naming a loaded version wins; without one, the oldest version whose card does not
   * record a failed quality gate (the shipped version 1). Returns the switches.
   */
  applyPromotions(records: readonly PromotionRecord[]): PromotionChange[] {
    const changes: PromotionChange[] = [];
    for (const [name, byVersion] of this.models) {
      const history = records.filter((r) => r.model === name && byVersion.has(r.version));
      const target = choosePromoted(name, new Map([...byVersion].map(([v, m]) => [v, m.card])), records);
      const retired = new Set(history.map((r) => r.version).filter((v) => v !== target));
      const from = this.promoted.get(name);
      if (from !== undefined && from !== target) retired.add(from);
      for (const v of this.retired.get(name) ?? []) if (v !== target) retired.add(v);
      this.retired.set(name, retired);
      if (from !== target) {
        this.promoted.set(name, target);
        changes.push({ name, from, to: target });
      }
    }
    return changes;
  }

  /** The promoted version of a model, or the given version; undefined when unknown. */
  get(name: string, version?: string | null): LoadedModel | undefined {
    const byVersion = this.models.get(name);
    if (!byVersion) return undefined;
    return byVersion.get(version ?? this.promoted.get(name) ?? '');
  }

  status(model: LoadedModel): ModelStatus {
    return statusOf(model.version, this.promoted.get(model.name) ?? '', this.retired.get(model.name) ?? new Set());
  }

  /** Model names. */
  names(): string[] {
    return [...this.models.keys()];
  }

  /** Versions of a model, oldest first. */
  versions(name: string): LoadedModel[] {
    return [...(this.models.get(name)?.values() ?? [])].sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** The promoted version of every model. */
  list(): LoadedModel[] {
    return this.names().map((n) => this.get(n)!);
  }

  /** Every loaded version of every model. */
  all(): LoadedModel[] {
    return this.names().flatMap((n) => this.versions(n));
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((m) => m.session.release().catch(() => {})));
  }

  /**
   * Runs each model's warm-up inference again (one all-missing row, straight on its session): the
   * names of the models whose session no longer runs or no longer gives a distribution (released,
   * broken), each with its first error line. Empty when every model serves.
   */
  async probe(): Promise<{ model: string; problem: string }[]> {
    const results = await Promise.all(
      this.list().map((m) =>
        warmUp(m, m.name).then(
          () => null,
          (err: unknown) => ({ model: m.name, problem: firstLine(err) }),
        ),
      ),
    );
    return results.filter((r) => r !== null);
  }
}

/** The cache identity of a model file: `name@version#sha256`. */
export const modelIdentity = (name: string, version: string, sha256: string) => `${name}@${version}#${sha256}`;

/** How a card's model takes its rows: the feature count and, for a sequence model, its token layout. */
export function feedLayout(card: ModelCard): FeedLayout {
  const sequenceInput = card.onnx.inputs.find((i) => i.name === 'sequence');
  return {
    featureCount: card.features.ordered.length,
    sequence: sequenceInput && card.sequence ? { tokenWidth: Number(sequenceInput.shape[2]), maxLength: card.sequence.max_orders } : undefined,
  };
}

const rel = (file: string) => path.relative(process.cwd(), file) || file;

/**
 * ONNX Runtime's intra-op threads spin (busy-wait) between runs by default, to start the next run
 * sooner. A server runs small batches many times a second on cores it shares with the event loop
 * and the database, so the spinning took CPU from them: 0.8–1 ms per single-customer request
 * under load (bench/serving.ts), more than half of what the event loop spent on it. Idle threads
 * sleep instead; a run that parallelises still uses them.
 */
const NO_SPINNING = { extra: { session: { intra_op: { allow_spinning: '0' } } } } as const;

async function loadModel(folder: string, cardFile: string, cardText: string, options: RegistryOptions): Promise<LoadedModel> {
  let card: ModelCard;
  try {
    card = JSON.parse(cardText) as ModelCard;
  } catch (err) {
    throw new ModelLoadError(rel(cardFile), `not valid JSON (${firstLine(err)})`);
  }
  const need = (ok: unknown, what: string) => {
    if (!ok) throw new ModelLoadError(rel(cardFile), `the card lacks ${what}`);
  };
  need(typeof card.name === 'string' && card.name, '"name"');
  need(typeof card.version === 'string' && card.version, '"version"');
  need(Array.isArray(card.classes) && card.classes.length >= 2, '"classes" (two or more)');
  need(Array.isArray(card.features?.ordered), '"features.ordered"');
  need(card.onnx && typeof card.onnx.file === 'string' && typeof card.onnx.sha256 === 'string', '"onnx.file" and "onnx.sha256"');
  need(Array.isArray(card.onnx.inputs) && Array.isArray(card.onnx.outputs), '"onnx.inputs" and "onnx.outputs"');

  // Features: the card, the spec shipped with the model and the service must agree.
  const specFile = path.join(folder, card.features.spec_file ? path.basename(card.features.spec_file) : 'features.json');
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(specFile, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(rel(specFile), `cannot read the feature spec (${firstLine(err)})`);
  }
  try {
    options.checkFeatureSpec(spec);
  } catch (err) {
    throw new ModelLoadError(rel(specFile), `the feature spec differs from what this service computes: ${firstLine(err)}`);
  }
  const expected = options.featureNames;
  const mismatch = card.features.ordered.findIndex((name, i) => name !== expected[i]);
  if (mismatch >= 0 || card.features.ordered.length !== expected.length) {
    const at = mismatch >= 0 ? mismatch : Math.min(card.features.ordered.length, expected.length);
    throw new ModelLoadError(
      rel(cardFile),
      `feature ${at} is "${card.features.ordered[at] ?? '(none)'}" but the service computes "${expected[at] ?? '(none)'}" there`,
    );
  }

  // The ONNX file must be the one the card describes.
  const onnxFile = path.join(folder, path.basename(card.onnx.file));
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(onnxFile));
  } catch (err) {
    throw new ModelLoadError(rel(onnxFile), `cannot read the model file (${firstLine(err)})`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== card.onnx.sha256) {
    throw new ModelLoadError(rel(onnxFile), `sha256 is ${sha.slice(0, 12)}…, the card declares ${card.onnx.sha256.slice(0, 12)}… (file replaced or corrupted)`);
  }

  let created: Awaited<ReturnType<ProviderSelector['createSession']>>;
  try {
    // ONNX Runtime's CPU arena keeps the memory of the largest run for the life of the session. A
    // sequence model's activations grow with rows × orders (an occlusion explanation of a page),
    // so its session allocates per run and gives the memory back; the tabular models' are small.
    const sequenceModel = card.onnx.inputs.some((i) => i.name === 'sequence');
    created = await options.providers.createSession(bytes, sequenceModel ? { ...NO_SPINNING, enableCpuMemArena: false } : NO_SPINNING);
  } catch (err) {
    if ((err as Error).name === 'ProviderUnavailableError') throw err;
    throw new ModelLoadError(rel(onnxFile), `ONNX Runtime cannot load it (${firstLine(err)})`);
  }
  const { session, provider, options: sessionOptions } = created;

  checkIo(rel(onnxFile), 'input', card.onnx.inputs, session.inputMetadata);
  checkIo(rel(onnxFile), 'output', card.onnx.outputs, session.outputMetadata);
  const probabilities = card.onnx.outputs.find((o) => o.name === 'probabilities');
  if (!probabilities || probabilities.shape[1] !== card.classes.length) {
    throw new ModelLoadError(rel(cardFile), `needs a "probabilities" output of shape [N, ${card.classes.length}]`);
  }
  const sequenceInput = card.onnx.inputs.find((i) => i.name === 'sequence');
  if (sequenceInput && !card.sequence) throw new ModelLoadError(rel(cardFile), 'has a "sequence" input but no "sequence" section');
  const layout = feedLayout(card);

  const classes = [...card.classes].sort((a, b) => a.index - b.index).map((c) => c.key);
  try {
    decisionRuleOf({ card, classes }); // a card whose class rule cannot be applied is refused here, not per request (and parsed once)
  } catch (err) {
    throw new ModelLoadError(rel(cardFile), firstLine(err));
  }
  const model: LoadedModel = {
    name: card.name,
    version: card.version,
    sha256: sha,
    identity: modelIdentity(card.name, card.version, sha),
    kind: card.kind,
    card,
    dir: folder,
    classes,
    featureNames: card.features.ordered,
    layout,
    onnxBytes: bytes,
    session,
    provider,
    sessionOptions,
    loadedAt: new Date(),
  };
  await warmUp(model, rel(onnxFile));
  return model;
}

function checkIo(file: string, what: string, declared: IoDecl[], actual: readonly ort.InferenceSession.ValueMetadata[]) {
  const names = actual.map((m) => m.name);
  if (declared.length !== actual.length || declared.some((d, i) => d.name !== names[i])) {
    throw new ModelLoadError(file, `${what}s are [${names.join(', ')}], the card declares [${declared.map((d) => d.name).join(', ')}]`);
  }
  declared.forEach((d, i) => {
    const m = actual[i];
    if (!m.isTensor) throw new ModelLoadError(file, `${what} "${d.name}" is not a tensor`);
    const shape = m.shape.map(String).join(',');
    if (m.type !== d.type || shape !== d.shape.map(String).join(',')) {
      throw new ModelLoadError(file, `${what} "${d.name}" is ${m.type}[${shape}], the card declares ${d.type}[${d.shape.join(',')}]`);
    }
  });
}

/** How a warm-up reaches a model: rows in, its `probabilities` output back. */
export type WarmUpRun = (rows: ModelRow[]) => Promise<Pick<ort.Tensor, 'data' | 'dims'>>;

/**
 * One inference with an all-missing customer: the model must run and give a distribution. `run`:
 * how the rows reach it (default: its own session; the inference thread passes its own).
 */
export async function warmUp(
  model: LoadedModel,
  file: string,
  run: WarmUpRun = async (rows) => (await model.session.run(buildFeeds(model.layout, rows))).probabilities as ort.Tensor,
  what = 'warm-up inference',
): Promise<void> {
  const row: ModelRow = { features: new Float64Array(model.featureNames.length).fill(Number.NaN) };
  try {
    const [p] = splitProbabilities(await run([row]), 1, model.classes.length);
    const sum = p.reduce((s, x) => s + x, 0);
    if (!p.every(Number.isFinite) || Math.abs(sum - 1) > 1e-3) throw new Error(`probabilities [${[...p].join(', ')}] are not a distribution`);
  } catch (err) {
    throw new ModelLoadError(file, `${what} failed (${firstLine(err)})`);
  }
}
