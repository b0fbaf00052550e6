// The model registry: every folder under MODELS_DIR holding a model.json is loaded once at start-up
// and checked against its card — file hash, declared inputs and outputs, the feature list — then
// warmed up with one inference. Any mismatch stops start-up with a ModelLoadError that names the
// file and the problem. One InferenceSession per model per process.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { firstLine, type ProviderName, type ProviderSelector } from './providers.js';
import { buildFeeds, splitProbabilities, type FeedLayout, type ModelRow } from './tensors.js';

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

export class ModelRegistry {
  private constructor(private readonly models: Map<string, LoadedModel>) {}

  static async load(options: RegistryOptions): Promise<ModelRegistry> {
    const dir = path.resolve(options.dir);
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: Error) => {
      throw new ModelLoadError(dir, `cannot read the models folder (${firstLine(err)})`);
    });
    const folders = entries.filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name)).sort();
    const models = new Map<string, LoadedModel>();
    for (const folder of folders) {
      const cardFile = path.join(folder, 'model.json');
      const card = await readFile(cardFile, 'utf8').then(
        (text) => text,
        () => null,
      );
      if (card === null) continue; // not a model folder
      const model = await loadModel(folder, cardFile, card, options);
      if (models.has(model.name)) throw new ModelLoadError(cardFile, `a second model is named "${model.name}"`);
      models.set(model.name, model);
    }
    if (models.size === 0) throw new ModelLoadError(dir, 'no model folder (a folder with model.json) found');
    return new ModelRegistry(models);
  }

  get(name: string): LoadedModel | undefined {
    return this.models.get(name);
  }

  list(): LoadedModel[] {
    return [...this.models.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.list().map((m) => m.session.release().catch(() => {})));
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

const rel = (file: string) => path.relative(process.cwd(), file) || file;

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
    created = await options.providers.createSession(bytes, sequenceModel ? { enableCpuMemArena: false } : {});
  } catch (err) {
    if ((err as Error).name === 'ProviderUnavailableError') throw err;
    throw new ModelLoadError(rel(onnxFile), `ONNX Runtime cannot load it (${firstLine(err)})`);
  }
  const { session, provider } = created;

  checkIo(rel(onnxFile), 'input', card.onnx.inputs, session.inputMetadata);
  checkIo(rel(onnxFile), 'output', card.onnx.outputs, session.outputMetadata);
  const probabilities = card.onnx.outputs.find((o) => o.name === 'probabilities');
  if (!probabilities || probabilities.shape[1] !== card.classes.length) {
    throw new ModelLoadError(rel(cardFile), `needs a "probabilities" output of shape [N, ${card.classes.length}]`);
  }
  const sequenceInput = card.onnx.inputs.find((i) => i.name === 'sequence');
  if (sequenceInput && !card.sequence) throw new ModelLoadError(rel(cardFile), 'has a "sequence" input but no "sequence" section');
  const layout: FeedLayout = {
    featureCount: expected.length,
    sequence: sequenceInput && card.sequence ? { tokenWidth: Number(sequenceInput.shape[2]), maxLength: card.sequence.max_orders } : undefined,
  };

  const classes = [...card.classes].sort((a, b) => a.index - b.index).map((c) => c.key);
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

/** One inference with an all-missing customer: the session must run and give a distribution. */
async function warmUp(model: LoadedModel, file: string): Promise<void> {
  const row: ModelRow = { features: new Float64Array(model.featureNames.length).fill(Number.NaN) };
  try {
    const out = await model.session.run(buildFeeds(model.layout, [row]));
    const [p] = splitProbabilities(out.probabilities as ort.Tensor, 1, model.classes.length);
    const sum = p.reduce((s, x) => s + x, 0);
    if (!p.every(Number.isFinite) || Math.abs(sum - 1) > 1e-3) throw new Error(`probabilities [${[...p].join(', ')}] are not a distribution`);
  } catch (err) {
    throw new ModelLoadError(file, `warm-up inference failed (${firstLine(err)})`);
  }
}
